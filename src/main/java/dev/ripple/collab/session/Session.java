package dev.ripple.collab.session;

import akka.Done;
import akka.NotUsed;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.cluster.sharding.typed.javadsl.EntityRef;
import akka.http.javadsl.model.ws.BinaryMessage;
import akka.http.javadsl.model.ws.Message;
import akka.http.javadsl.model.ws.TextMessage;
import akka.japi.Pair;
import akka.stream.OverflowStrategy;
import akka.stream.StreamLimitReachedException;
import akka.stream.javadsl.Flow;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.Source;
import akka.stream.typed.javadsl.ActorSource;
import akka.util.ByteString;
import dev.ripple.collab.Settings;
import dev.ripple.collab.protocol.BatchAssembler;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.Room;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket connection between a client and its room. Inbound frames are reassembled (y-pk-batch),
 * decoded and sent to the room; the room's frames go out through a bounded queue, and a client
 * that falls behind by more than the queue is disconnected while the room carries on.
 */
public final class Session {
  private static final Logger log = LoggerFactory.getLogger(Session.class);

  private Session() {}

  /** The WebSocket handler flow for one connection to {@code room}. */
  public static Flow<Message, Message, NotUsed> flow(ActorSystem<?> system, Settings settings,
      EntityRef<Room.Command> room, String roomId, String connectionId, boolean readOnly) {
    Pair<ActorRef<Room.Outbound>, Source<Room.Outbound, NotUsed>> outbound = ActorSource.<Room.Outbound>actorRef(
            m -> m instanceof Room.Close,
            m -> Optional.empty(),
            settings.outboundQueueMessages(),
            OverflowStrategy.fail())
        .preMaterialize(system);
    ActorRef<Room.Outbound> self = outbound.first();
    room.tell(new Room.Join(connectionId, self, readOnly));

    BatchAssembler batches = new BatchAssembler(settings.maxMessageBytes(), settings.maxBatchChunks());
    Sink<Message, CompletionStage<Done>> in = Flow.<Message>create()
        .mapAsync(1, m -> strict(system, m, settings.maxMessageBytes()))
        .mapConcat(frame -> {
          try {
            byte[] whole = frame instanceof String text ? batches.onText(text) : batches.onBinary((byte[]) frame);
            if (whole == null) return List.<SyncProtocol.ClientMessage>of();
            if (whole.length > settings.maxMessageBytes()) {
              throw new ProtocolException(CloseCodes.TOO_BIG, "message of " + whole.length + " bytes exceeds the limit");
            }
            return List.of(SyncProtocol.decode(whole));
          } catch (ProtocolException e) {
            log.info("room {}: connection {} sent a bad message ({}): {}", roomId, connectionId, e.closeCode(), e.getMessage());
            self.tell(new Room.Close(e.closeCode(), e.getMessage()));
            return List.of();
          }
        })
        .toMat(Sink.foreach(m -> room.tell(new Room.FromClient(connectionId, m))), (a, b) -> b);

    Source<Message, NotUsed> out = outbound.second()
        .map(m -> (Message) BinaryMessage.create(ByteString.fromArrayUnsafe(((Room.Send) m).frame())));

    return Flow.fromSinkAndSourceCoupled(in, out)
        .watchTermination((mat, done) -> {
          done.whenComplete((d, failure) -> room.tell(new Room.Leave(connectionId)));
          return mat;
        });
  }

  /**
   * A whole frame: String for text, byte[] for binary. A frame over the limit closes the
   * connection (the stream fails, and the coupled flow closes the socket).
   */
  private static CompletionStage<Object> strict(ActorSystem<?> system, Message m, long limit) {
    if (m.isText()) {
      TextMessage t = m.asTextMessage();
      if (t.isStrict()) return CompletableFuture.completedFuture(t.getStrictText());
      return t.getStreamedText().limitWeighted(limit, s -> (long) s.length())
          .runFold(new StringBuilder(), StringBuilder::append, system)
          .thenApply(StringBuilder::toString);
    }
    BinaryMessage b = m.asBinaryMessage();
    if (b.isStrict()) return CompletableFuture.completedFuture(b.getStrictData().toArrayUnsafe());
    return b.getStreamedData().limitWeighted(limit, bs -> (long) bs.size())
        .runFold(ByteString.emptyByteString(), ByteString::concat, system)
        .<Object>thenApply(ByteString::toArrayUnsafe)
        .exceptionally(e -> {
          Throwable cause = e.getCause() != null ? e.getCause() : e;
          if (cause instanceof StreamLimitReachedException) {
            throw new ProtocolException(CloseCodes.TOO_BIG, "message exceeds " + limit + " bytes");
          }
          throw new RuntimeException(cause);
        });
  }
}
