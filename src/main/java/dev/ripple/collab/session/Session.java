package dev.ripple.collab.session;

import akka.NotUsed;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.RecipientRef;
import akka.japi.Pair;
import akka.stream.OverflowStrategy;
import akka.stream.javadsl.Flow;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.Source;
import akka.stream.typed.javadsl.ActorSource;
import dev.ripple.collab.Settings;
import dev.ripple.collab.protocol.BatchAssembler;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.Room;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket connection between a client and its room. Whole messages come in (see
 * {@link WebSocketFrames}), y-pk-batch chunks are reassembled, messages are decoded and sent to the
 * room; the room's frames go out through a bounded queue, and a client that falls more than the
 * queue behind is disconnected (1013) while the room carries on.
 */
public final class Session {
  private static final Logger log = LoggerFactory.getLogger(Session.class);

  private Session() {}

  /** The message-level handler for one connection to {@code room}. */
  public static Flow<Object, Room.Outbound, NotUsed> flow(ActorSystem<?> system, Settings settings, SessionRegistry registry,
      RecipientRef<Room.Command> room, String roomId, String connectionId, boolean readOnly) {
    Pair<ActorRef<Room.Outbound>, Source<Room.Outbound, NotUsed>> outbound = ActorSource.<Room.Outbound>actorRef(
            m -> false,
            m -> Optional.empty(),
            settings.outboundQueueMessages(),
            OverflowStrategy.fail())
        .preMaterialize(system);
    ActorRef<Room.Outbound> self = outbound.first();
    registry.add(self);
    // the link joins the room (through sharding, repeating the Join until the room answers) and
    // carries the client's messages to the incarnation that answered; it watches that incarnation
    ActorRef<RoomLink.Command> link = system.systemActorOf(
        RoomLink.create(room, new Room.Join(connectionId, self, readOnly), roomId, settings.sessions()),
        "room-link-" + java.util.UUID.randomUUID(), akka.actor.typed.Props.empty());

    BatchAssembler batches = new BatchAssembler(settings.maxMessageBytes(), settings.maxBatchChunks());
    Sink<Object, NotUsed> in = Flow.create()
        .mapConcat(message -> {
          try {
            if (message instanceof ProtocolException e) throw e;
            byte[] whole = message instanceof String text ? batches.onText(text) : batches.onBinary((byte[]) message);
            if (whole == null) return List.<SyncProtocol.ClientMessage>of();
            return List.of(SyncProtocol.decode(whole));
          } catch (ProtocolException e) {
            log.info("room {}: connection {} sent a bad message ({}): {}", roomId, connectionId, e.closeCode(), e.getMessage());
            self.tell(new Room.Close(e.closeCode(), e.getMessage()));
            return List.of();
          }
        })
        .to(Sink.foreach(m -> link.tell(new RoomLink.Inbound(m))));

    Source<Room.Outbound, NotUsed> out = outbound.second()
        .filter(m -> {
          if (m instanceof Room.Joined joined) {
            link.tell(new RoomLink.Joined(joined.room()));
            return false;
          }
          return true;
        })
        .takeWhile(m -> !(m instanceof Room.Close), true) // the close frame is the last thing sent
        .recover(akka.stream.BufferOverflowException.class, () -> {
          log.info("room {}: connection {} fell {} messages behind; closing it", roomId, connectionId, settings.outboundQueueMessages());
          return new Room.Close(CloseCodes.TRY_AGAIN_LATER, "client too slow: outbound queue full");
        });

    return Flow.fromSinkAndSourceCoupled(in, out)
        .watchTermination((mat, done) -> {
          done.whenComplete((d, failure) -> {
            registry.remove(self);
            link.tell(new RoomLink.Ended());
          });
          return mat;
        });
  }
}
