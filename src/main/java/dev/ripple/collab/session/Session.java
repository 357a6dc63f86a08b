package dev.ripple.collab.session;

import akka.NotUsed;
import akka.actor.Terminated;
import akka.actor.typed.ActorRef;
import akka.actor.typed.RecipientRef;
import akka.actor.typed.javadsl.Adapter;
import akka.stream.Attributes;
import akka.stream.FlowShape;
import akka.stream.Inlet;
import akka.stream.Outlet;
import akka.stream.javadsl.Flow;
import akka.stream.stage.AbstractInHandler;
import akka.stream.stage.AbstractOutHandler;
import akka.stream.stage.GraphStage;
import akka.stream.stage.GraphStageLogic;
import akka.stream.stage.GraphStageLogic.StageActor;
import akka.stream.stage.TimerGraphStageLogic;
import dev.ripple.collab.Settings;
import dev.ripple.collab.protocol.BatchAssembler;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.Room;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.function.Supplier;
import scala.runtime.BoxedUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket connection between a client and its room, as a single stream stage.
 *
 * <p>Below it is the wire (see {@link Wire}: akka-http's frame layer in the server, whole messages
 * in tests). Whole messages come in, y-pk-batch chunks are reassembled, messages are decoded and
 * told to the room. The stage's own actor is the session's address: the room sends it what to
 * send, and those frames go out through a bounded queue. A client that falls more than the queue
 * behind is closed with 1013, and the room carries on.
 *
 * <p>The session joins its room through cluster sharding and sends the Join again every
 * {@code join-retry} until the room answers: in the seconds after a node dies, sharding still
 * routes a room that lived there to the dead node, where the message is lost. The client's
 * messages wait until the room has answered, then go straight to the incarnation that answered,
 * in order, without passing through sharding's region and shard. That incarnation is watched: if it
 * stops while the connection is open, the connection is closed with 1012, and the client's
 * reconnect brings the room at its new home whatever it lacks. A room that does not answer within
 * {@code join-timeout}, or a client that sends more than the queue's worth before it has, gets 1013.
 *
 * <p>Everything a connection needs above the frame layer is this one stage with one actor (the
 * stage actor, which runs on the stream's own actor): per connection that is a few kilobytes and no
 * extra hop per message, where a composition of stock stages, an actor source and a link actor
 * cost about 50 KB and two extra mailbox hops (bench/load/README.md).
 */
public final class Session extends GraphStage<FlowShape<Object, Object>> {
  private static final Logger log = LoggerFactory.getLogger(Session.class);

  /**
   * What lies below the session: how its elements become whole messages and how the session's
   * output becomes elements. One per connection (it may hold a partly received message).
   */
  public interface Wire {
    /**
     * An element from below: a whole message ({@code String} or {@code byte[]}), a
     * {@link ProtocolException} (the message broke a limit), a {@link Passthrough}, or null when it
     * completes no message.
     */
    Object receive(Object element);

    /** The element that sends {@code out} ({@link Room.Send} or {@link Room.Close}). */
    Object render(Room.Outbound out);

    /** The element sent after the session's last one; null to complete the stream instead. */
    Object finished();

    /** The element sent every {@link #tickInterval()} after the session has closed; null for none. */
    Object tick();

    Duration tickInterval();
  }

  /** An element from below that goes straight back down (control frames); {@code peerClosed}: the client closed. */
  public record Passthrough(Object element, boolean peerClosed) {}

  /** Whole messages in (String, byte[] or ProtocolException), {@link Room.Outbound} out; completion is the client's close. */
  static final class Messages implements Wire {
    @Override
    public Object receive(Object element) {
      return element;
    }

    @Override
    public Object render(Room.Outbound out) {
      return out;
    }

    @Override
    public Object finished() {
      return null;
    }

    @Override
    public Object tick() {
      return null;
    }

    @Override
    public Duration tickInterval() {
      return Duration.ZERO;
    }
  }

  private final Inlet<Object> in = Inlet.create("Session.in");
  private final Outlet<Object> out = Outlet.create("Session.out");
  private final FlowShape<Object, Object> shape = FlowShape.of(in, out);
  private final Settings settings;
  private final SessionRegistry registry;
  private final RecipientRef<Room.Command> sharded;
  private final String roomId;
  private final String connectionId;
  private final boolean readOnly;
  private final Supplier<Wire> wire;

  /**
   * @param sharded the room through cluster sharding
   * @param wire makes the wire for each materialization
   */
  public Session(Settings settings, SessionRegistry registry, RecipientRef<Room.Command> sharded, String roomId,
      String connectionId, boolean readOnly, Supplier<Wire> wire) {
    this.settings = settings;
    this.registry = registry;
    this.sharded = sharded;
    this.roomId = roomId;
    this.connectionId = connectionId;
    this.readOnly = readOnly;
    this.wire = wire;
  }

  /** The session on whole messages: String or byte[] in, {@link Room.Outbound} out. */
  public static Flow<Object, Room.Outbound, NotUsed> flow(Settings settings, SessionRegistry registry, RecipientRef<Room.Command> room,
      String roomId, String connectionId, boolean readOnly) {
    return Flow.fromGraph(new Session(settings, registry, room, roomId, connectionId, readOnly, Messages::new))
        .map(o -> (Room.Outbound) o);
  }

  @Override
  public FlowShape<Object, Object> shape() {
    return shape;
  }

  @Override
  public GraphStageLogic createLogic(Attributes attributes) {
    return new Logic();
  }

  private static final String RETRY = "retry";
  private static final String GIVE_UP = "give-up";
  private static final String TICK = "tick";

  private final class Logic extends TimerGraphStageLogic {
    private final Wire frames = wire.get();
    private final BatchAssembler batches = new BatchAssembler(settings.maxMessageBytes(), settings.maxBatchChunks());
    /** What waits for the client to read it; at most the outbound queue's worth, plus closing frames. */
    private final ArrayDeque<Object> pending = new ArrayDeque<>();
    /** The client's messages before the room has answered. */
    private final ArrayDeque<SyncProtocol.ClientMessage> held = new ArrayDeque<>();
    private StageActor stageActor;
    private ActorRef<Room.Outbound> self;
    private Room.Join join;
    /** The room incarnation that answered the Join; null until then. */
    private ActorRef<Room.Command> room;
    /** The session has sent (or queued) its last frame: nothing more from the room or the client. */
    private boolean closing;

    Logic() {
      super(shape);
      setHandler(in, new AbstractInHandler() {
        @Override
        public void onPush() {
          onElement(grab(in));
          if (!hasBeenPulled(in) && !isClosed(in)) pull(in);
        }

        @Override
        public void onUpstreamFinish() {
          completeStage(); // the client's side is gone
        }
      });
      setHandler(out, new AbstractOutHandler() {
        @Override
        public void onPull() {
          drain();
        }
      });
    }

    @Override
    public void preStart() {
      stageActor = getStageActor(envelope -> {
        onActorMessage(envelope._2());
        return BoxedUnit.UNIT;
      });
      self = Adapter.toTyped(stageActor.ref());
      join = new Room.Join(connectionId, self, readOnly);
      registry.add(self);
      sharded.tell(join);
      Duration retry = settings.sessions().joinRetry();
      scheduleWithFixedDelay(RETRY, retry, retry);
      scheduleOnce(GIVE_UP, settings.sessions().joinTimeout());
      pull(in);
    }

    @Override
    public void postStop() {
      if (self == null) return; // never started
      registry.remove(self);
      // leave the incarnation that answered; before an answer, leave through sharding, in case a
      // Join reached the room after all
      if (room != null) room.tell(new Room.Leave(connectionId));
      else sharded.tell(new Room.Leave(connectionId));
    }

    // ---- from the client

    private void onElement(Object element) {
      Object message = frames.receive(element);
      if (message == null) return;
      if (message instanceof Passthrough p) {
        if (p.peerClosed() || closing) send(p.element());
        else sendBounded(p.element());
        if (p.peerClosed() && !closing) finish(); // answer the client's close: our side is done too
        return;
      }
      if (closing) return;
      try {
        if (message instanceof ProtocolException e) throw e;
        byte[] whole = message instanceof String text ? batches.onText(text) : batches.onBinary((byte[]) message);
        if (whole != null) toRoom(SyncProtocol.decode(whole));
      } catch (ProtocolException e) {
        log.info("room {}: connection {} sent a bad message ({}): {}", roomId, connectionId, e.closeCode(), e.getMessage());
        close(e.closeCode(), e.getMessage());
      }
    }

    private void toRoom(SyncProtocol.ClientMessage message) {
      if (room != null) {
        room.tell(new Room.FromClient(connectionId, message));
      } else if (held.size() >= settings.sessions().maxHeldMessages()) {
        log.info("room {}: connection {} sent {} messages before the room answered; closing it", roomId, connectionId, held.size());
        close(CloseCodes.TRY_AGAIN_LATER, "room not reachable yet");
      } else {
        held.add(message);
      }
    }

    // ---- from the room (and the registry), through the stage actor

    private void onActorMessage(Object message) {
      if (message instanceof Room.Send) {
        if (!closing) sendBounded(frames.render((Room.Send) message));
      } else if (message instanceof Room.Joined joined) {
        onJoined(joined.room());
      } else if (message instanceof Room.Close c) {
        if (!closing) close(c.code(), c.reason());
      } else if (message instanceof Terminated t) {
        if (room != null && Adapter.toClassic(room).equals(t.actor()) && !closing) {
          log.info("room {}: stopped while connection {} was open; closing it with 1012", roomId, connectionId);
          close(CloseCodes.SERVICE_RESTART, "room moved");
        }
      }
    }

    private void onJoined(ActorRef<Room.Command> answered) {
      if (room == null && !closing) {
        room = answered;
        cancelTimer(RETRY);
        cancelTimer(GIVE_UP);
        stageActor.watch(Adapter.toClassic(answered));
        for (SyncProtocol.ClientMessage m : held) answered.tell(new Room.FromClient(connectionId, m));
        held.clear();
      } else if (!answered.equals(room)) {
        // a repeated Join that a second incarnation took, or an answer after we closed: leave it
        answered.tell(new Room.Leave(connectionId));
      }
    }

    @Override
    public void onTimer(Object key) {
      if (RETRY.equals(key)) {
        if (room == null && !closing) sharded.tell(join);
      } else if (GIVE_UP.equals(key)) {
        if (room == null && !closing) {
          log.warn("room {}: no answer to connection {} within {}; closing it", roomId, connectionId, settings.sessions().joinTimeout());
          close(CloseCodes.TRY_AGAIN_LATER, "room not reachable");
        }
      } else if (TICK.equals(key)) {
        if (pending.isEmpty() && isAvailable(out)) push(out, frames.tick());
      }
    }

    // ---- to the client

    /** A frame the room sent, or a pong; a client more than the outbound queue behind is closed. */
    private void sendBounded(Object element) {
      if (pending.size() >= settings.outboundQueueMessages()) {
        log.info("room {}: connection {} fell {} messages behind; closing it", roomId, connectionId, pending.size());
        pending.clear();
        close(CloseCodes.TRY_AGAIN_LATER, "client too slow: outbound queue full");
      } else {
        send(element);
      }
    }

    private void send(Object element) {
      pending.add(element);
      drain();
    }

    /** Sends the close frame as the session's last message. */
    private void close(int code, String reason) {
      send(frames.render(new Room.Close(code, reason)));
      finish();
    }

    /** Nothing more from this side: the wire's end marker follows, or the stream completes once drained. */
    private void finish() {
      closing = true;
      cancelTimer(RETRY);
      cancelTimer(GIVE_UP);
      Object finished = frames.finished();
      if (finished != null) pending.add(finished);
      if (frames.tick() != null) scheduleWithFixedDelay(TICK, frames.tickInterval(), frames.tickInterval());
      drain();
    }

    private void drain() {
      if (isAvailable(out) && !pending.isEmpty()) push(out, pending.poll());
      if (closing && pending.isEmpty() && frames.finished() == null) completeStage();
    }
  }
}
