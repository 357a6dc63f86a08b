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
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.protocol.BatchAssembler;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.Presence;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.RoomProtocol;
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
 * send, and those frames go out through a queue bounded in messages and bytes. A client that falls
 * further behind is closed with 1013, and the room carries on.
 *
 * <p>Flow control: at most a window of messages and bytes is in flight to the room; the room
 * acknowledges each message once it has handled it (an update: once journaled). Meanwhile the
 * client's messages wait in an {@link Inbox}, where consecutive updates are merged into one (one
 * journal write for many updates: group commit). When the inbox holds its limit the session stops
 * reading the socket, so TCP holds the client back: a fast client is slowed down, never dropped.
 * When the client leaves, what it sent still reaches the room before the session's Leave.
 *
 * <p>The session joins its room through cluster sharding and sends the Join again every
 * {@code join-retry} until the room answers: in the seconds after a node dies, sharding still
 * routes a room that lived there to the dead node, where the message is lost. The client's
 * messages wait (the window is closed) until the room has answered, then go straight to the
 * incarnation that answered, in order, without passing through sharding's region and shard. A room
 * that stops in good order (passivation, rebalance) tells the session to {@link RoomProtocol.Rejoin}: the
 * session joins again through sharding, sends the next incarnation what the last one did not
 * acknowledge, and asks it, for the client, for what the document gained since: the client stays
 * connected and nothing it sent is lost. A room that stops without telling (its node died) is
 * watched: the connection is closed with 1012, and the client's reconnect brings the room at its
 * new home whatever it lacks. A room that does not answer within {@code join-timeout} gets the
 * connection closed with 1013.
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
     * completes no message. A wire may cut text longer than {@link BatchAssembler#MAX_MARKER_CHARS}
     * to its first {@code MAX_MARKER_CHARS + 1} characters: such text is a marker too long to read, or ignored.
     */
    Object receive(Object element);

    /** The element that sends {@code out} ({@link RoomProtocol.Send} or {@link RoomProtocol.Close}). */
    Object render(RoomProtocol.Outbound out);

    /** The element sent after the session's last one; null to complete the stream instead. */
    Object finished();

    /** The element sent every {@link #tickInterval()} after the session has closed; null for none. */
    Object tick();

    Duration tickInterval();

    /** The connection has ended: give back what it held (see {@link dev.ripple.collab.protocol.InboundBudget}). */
    default void closed() {}
  }

  /** An element from below that goes straight back down (control frames); {@code peerClosed}: the client closed. */
  public record Passthrough(Object element, boolean peerClosed) {}

  /** Whole messages in (String, byte[] or ProtocolException), {@link RoomProtocol.Outbound} out; completion is the client's close. */
  static final class Messages implements Wire {
    @Override
    public Object receive(Object element) {
      return element;
    }

    @Override
    public Object render(RoomProtocol.Outbound out) {
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
  private final RecipientRef<RoomProtocol.Command> sharded;
  private final String roomId;
  private final String connectionId;
  private final boolean readOnly;
  private final Supplier<Wire> wire;

  /**
   * @param sharded the room through cluster sharding
   * @param wire makes the wire for each materialization
   */
  public Session(Settings settings, SessionRegistry registry, RecipientRef<RoomProtocol.Command> sharded, String roomId,
      String connectionId, boolean readOnly, Supplier<Wire> wire) {
    this.settings = settings;
    this.registry = registry;
    this.sharded = sharded;
    this.roomId = roomId;
    this.connectionId = connectionId;
    this.readOnly = readOnly;
    this.wire = wire;
  }

  /** The session on whole messages: String or byte[] in, {@link RoomProtocol.Outbound} out. */
  public static Flow<Object, RoomProtocol.Outbound, NotUsed> flow(Settings settings, SessionRegistry registry, RecipientRef<RoomProtocol.Command> room,
      String roomId, String connectionId, boolean readOnly) {
    return Flow.fromGraph(new Session(settings, registry, room, roomId, connectionId, readOnly, Messages::new))
        .map(o -> (RoomProtocol.Outbound) o);
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
  private static final String CLOSE_TIMEOUT = "close-timeout";
  /** Most updates merged into one room message. */
  private static final int MAX_COALESCED = 1024;
  /** Most rejoins per connection (a room that keeps stopping as it is joined): past it, 1012. */
  private static final int MAX_REJOINS = 16;

  /** A frame waiting for the client to read it, with its size. */
  private record Queued(Object element, long bytes) {}

  private final class Logic extends TimerGraphStageLogic {
    private final Wire frames = wire.get();
    private final BatchAssembler batches = new BatchAssembler(settings.maxMessageBytes(), settings.maxBatchChunks(), registry.inbound());
    private final Settings.Window window = settings.window();
    private final Presence.Limits presenceLimits = settings.presenceLimits();
    /** What waits for the client to read it; at most the outbound queue's worth, plus closing frames. */
    private final ArrayDeque<Queued> pending = new ArrayDeque<>();
    private long pendingBytes;
    /** The client's messages waiting for the window (or for the room's answer to the Join), coalesced. */
    private final Inbox inbox = new Inbox(MAX_COALESCED);
    /** The messages sent to the room and not yet acknowledged, oldest first (sent again after a rejoin). */
    private final ArrayDeque<Inbox.Batch> inFlight = new ArrayDeque<>();
    private long inFlightBytes;
    private StageActor stageActor;
    private ActorRef<RoomProtocol.Outbound> self;
    private RoomProtocol.Join join;
    /** The room incarnation that answered the Join; null until then. */
    private ActorRef<RoomProtocol.Command> room;
    /** The room stopped, closed us, or never answered: nothing more can reach it. */
    private boolean roomGone;
    /** After a Rejoin: the state vector to ask the next incarnation about for the client (null: nothing to ask). */
    private byte[] resync;
    private int rejoins;
    /** The room closed the connection (a message it refused, the room full, the server stopping): its code and reason. */
    private String closedByRoom;
    /** The session has sent (or queued) its last frame: nothing more from the room or the client. */
    private boolean closing;
    private long closingSince;
    /** The wire below has finished: the client's side is gone. */
    private boolean wireDone;

    Logic() {
      super(shape);
      setHandler(in, new AbstractInHandler() {
        @Override
        public void onPush() {
          onElement(grab(in));
          pullIfRoom();
        }

        @Override
        public void onUpstreamFinish() {
          wireDone = true; // the client's side is gone; what it sent still goes to the room
          if (!closing) finish();
          completeWhenSettled();
        }
      });
      setHandler(out, new AbstractOutHandler() {
        @Override
        public void onPull() {
          drain();
        }

        @Override
        public void onDownstreamFinish(Throwable cause) {
          wireDone = true;
          if (!closing) finish();
          completeWhenSettled();
        }
      });
    }

    @Override
    public void preStart() {
      // the stage ends itself (completeWhenSettled): what the client sent before it left still reaches the room
      setKeepGoing(true);
      stageActor = getStageActor(envelope -> {
        onActorMessage(envelope._2());
        return BoxedUnit.UNIT;
      });
      self = Adapter.toTyped(stageActor.ref());
      join = new RoomProtocol.Join(connectionId, self, readOnly);
      registry.add(roomId, connectionId, self);
      sharded.tell(join);
      Duration retry = settings.sessions().joinRetry();
      scheduleWithFixedDelay(RETRY, retry, retry);
      scheduleOnce(GIVE_UP, settings.sessions().joinTimeout());
      pull(in);
    }

    @Override
    public void postStop() {
      frames.closed();
      batches.release();
      if (self == null) return; // never started
      registry.remove(roomId, connectionId, self);
      if (closedByRoom == null && (!inbox.isEmpty() || !inFlight.isEmpty())) {
        log.warn("room {}: connection {} ended with {} client messages the room did not acknowledge ({})", roomId, connectionId,
            inbox.size() + inFlight.size(), roomGone ? "the room is gone; the client resyncs when it reconnects" : "timed out");
      } else if (!inbox.isEmpty() || !inFlight.isEmpty()) {
        log.debug("room {}: connection {} closed by the room ({}) with {} client messages after the one it refused", roomId,
            connectionId, closedByRoom, inbox.size() + inFlight.size());
      }
      // leave the incarnation that answered; before an answer, leave through sharding, in case a
      // Join reached the room after all
      if (room != null) room.tell(new RoomProtocol.Leave(connectionId));
      else sharded.tell(new RoomProtocol.Leave(connectionId));
    }

    // ---- from the client

    private void onElement(Object element) {
      Object message = frames.receive(element);
      if (message == null) return;
      if (message instanceof Passthrough p) {
        if (p.peerClosed()) send(p.element(), 0); // the frame layer needs it to finish the close handshake
        else if (!closing) sendBounded(p.element(), 0);
        if (p.peerClosed() && !closing) finish(); // answer the client's close: our side is done too
        return;
      }
      if (closing) return;
      try {
        if (message instanceof ProtocolException e) throw e;
        byte[] whole = message instanceof String text ? batches.onText(text) : batches.onBinary((byte[]) message);
        if (whole != null) toRoom(SyncProtocol.decode(whole), whole.length);
      } catch (ProtocolException e) {
        log.info("room {}: connection {} sent a bad message ({}): {}", roomId, connectionId, e.closeCode(), e.getMessage());
        close(e.closeCode(), e.getMessage());
      }
    }

    private void toRoom(SyncProtocol.ClientMessage message, long size) {
      if (message instanceof SyncProtocol.Ignored) return; // y-protocols ignores unknown message types; so does the room
      SyncProtocol.validate(message); // a step 1's state vector, checked here too: the room gets only what it can use
      if (message instanceof SyncProtocol.AwarenessUpdate a) {
        // limits checked here, on the connection's own thread: an offender is closed (1008) before the room sees it
        message = new SyncProtocol.AwarenessUpdate(a.update(), Presence.decode(a.update(), presenceLimits));
      }
      inbox.add(message, size);
      dispatch();
    }

    /** Sends waiting messages while the window allows. */
    private void dispatch() {
      while (room != null && !roomGone && !inbox.isEmpty() && inFlight.size() < window.messages()
          && (inFlight.isEmpty() || inFlightBytes + inbox.headBytes() <= window.bytes())) {
        Inbox.Batch batch = inbox.poll();
        room.tell(new RoomProtocol.FromClient(connectionId, batch.message(), batch.coalesced()));
        inFlight.add(batch);
        inFlightBytes += batch.bytes();
      }
    }

    /** Reads the socket on while little waits; else the client is held back by TCP until the room catches up. */
    private void pullIfRoom() {
      if (hasBeenPulled(in) || isClosed(in)) return;
      if (closing || (inbox.size() < window.waitingMessages() && inbox.bytes() < window.waitingBytes())) pull(in);
    }

    // ---- from the room (and the registry), through the stage actor

    private void onActorMessage(Object message) {
      if (message instanceof RoomProtocol.Send send) {
        if (!closing) sendBounded(frames.render(send), send.frame().length);
      } else if (message instanceof RoomProtocol.Ack) {
        Inbox.Batch acked = inFlight.poll();
        if (acked != null) inFlightBytes -= acked.bytes();
        dispatch();
        pullIfRoom();
        completeWhenSettled();
      } else if (message instanceof RoomProtocol.Joined joined) {
        onJoined(joined.room());
      } else if (message instanceof RoomProtocol.Rejoin rejoin) {
        onRejoin(rejoin);
      } else if (message instanceof RoomProtocol.Close c) {
        roomGone = true; // the room will not take more from this connection
        closedByRoom = c.code() + " " + c.reason();
        if (!closing) close(c.code(), c.reason());
        completeWhenSettled();
      } else if (message instanceof Terminated t) {
        if (room != null && Adapter.toClassic(room).equals(t.actor())) {
          roomGone = true;
          if (!closing) {
            log.info("room {}: stopped while connection {} was open; closing it with 1012", roomId, connectionId);
            close(CloseCodes.SERVICE_RESTART, "room moved");
          }
          completeWhenSettled();
        }
      }
    }

    private void onJoined(ActorRef<RoomProtocol.Command> answered) {
      if (room == null && !roomGone) {
        room = answered;
        cancelTimer(RETRY);
        cancelTimer(GIVE_UP);
        stageActor.watch(Adapter.toClassic(answered));
        if (resync != null && !closing) {
          // after a rejoin: what the document gained since the last incarnation's state, for the client
          inFlight.addFirst(new Inbox.Batch(new SyncProtocol.SyncStep1(resync), 1, 0));
        }
        resync = null;
        // after a rejoin: what the last incarnation did not acknowledge, again, in order (updates are idempotent)
        for (Inbox.Batch b : inFlight) room.tell(new RoomProtocol.FromClient(connectionId, b.message(), b.coalesced()));
        dispatch();
        completeWhenSettled();
      } else if (!answered.equals(room)) {
        // a repeated Join that a second incarnation took, or an answer after we gave up: leave it
        answered.tell(new RoomProtocol.Leave(connectionId));
      }
    }

    /** The room is stopping in good order: leave it and join its next incarnation, keeping what it did not acknowledge. */
    private void onRejoin(RoomProtocol.Rejoin rejoin) {
      if (roomGone) return;
      if (room != null) {
        room.tell(new RoomProtocol.Leave(connectionId)); // after everything sent to it: it handles those first
        stageActor.unwatch(Adapter.toClassic(room));
        room = null;
      }
      if (closing && inbox.isEmpty() && inFlight.isEmpty()) { // nothing left to deliver
        roomGone = true;
        completeWhenSettled();
        return;
      }
      if (++rejoins > MAX_REJOINS) {
        log.warn("room {}: connection {} told to rejoin {} times; closing it with 1012", roomId, connectionId, rejoins);
        roomGone = true;
        if (!closing) close(CloseCodes.SERVICE_RESTART, "room moved");
        completeWhenSettled();
        return;
      }
      log.debug("room {}: connection {} rejoins the room", roomId, connectionId);
      resync = rejoin.stateVector();
      sharded.tell(join);
      Duration retry = settings.sessions().joinRetry();
      scheduleWithFixedDelay(RETRY, retry, retry);
      scheduleOnce(GIVE_UP, settings.sessions().joinTimeout());
    }

    @Override
    public void onTimer(Object key) {
      if (RETRY.equals(key)) {
        if (room == null && !roomGone) sharded.tell(join);
      } else if (GIVE_UP.equals(key)) {
        if (room == null) {
          log.warn("room {}: no answer to connection {} within {}; closing it", roomId, connectionId, settings.sessions().joinTimeout());
          roomGone = true;
          cancelTimer(RETRY);
          if (!closing) close(CloseCodes.TRY_AGAIN_LATER, "room not reachable");
          completeWhenSettled();
        }
      } else if (TICK.equals(key)) {
        if (pending.isEmpty() && isAvailable(out)) push(out, frames.tick());
      } else if (CLOSE_TIMEOUT.equals(key)) {
        if (!wireDone) {
          // the close frame could not leave (a client that does not read) or the client never answered it
          log.info("room {}: connection {} did not finish closing within {}; dropping it", roomId, connectionId,
              settings.sessions().closeTimeout());
          pending.clear();
          pendingBytes = 0;
          wireDone = true;
        }
        Duration waited = Duration.ofNanos(System.nanoTime() - closingSince);
        if (waited.compareTo(settings.sessions().joinTimeout()) > 0) roomGone = true; // the room never acknowledged: give up
        if (!completeWhenSettled()) scheduleOnce(CLOSE_TIMEOUT, settings.sessions().closeTimeout());
      }
    }

    /**
     * Ends the stage once both sides are done: the wire has finished and what the client sent has
     * been acknowledged by the room (or the room is gone). Leave follows in postStop, after them.
     */
    private boolean completeWhenSettled() {
      if (!closing) return false;
      boolean wire = wireDone || (frames.finished() == null && pending.isEmpty());
      // before any answer nothing is in flight; after a Rejoin what is in flight waits for the next incarnation
      boolean settled = roomGone || (inbox.isEmpty() && inFlight.isEmpty());
      if (wire && settled) {
        completeStage();
        return true;
      }
      return false;
    }

    // ---- to the client

    /** A frame the room sent, or a pong; a client more than the outbound queue behind is closed. */
    private void sendBounded(Object element, long bytes) {
      boolean full = pending.size() >= settings.outboundQueueMessages()
          || (!pending.isEmpty() && pendingBytes + bytes > settings.outboundQueueBytes());
      if (full) {
        log.info("room {}: connection {} fell {} messages / {} bytes behind; closing it", roomId, connectionId, pending.size(), pendingBytes);
        pending.clear();
        pendingBytes = 0;
        close(CloseCodes.TRY_AGAIN_LATER, "client too slow: outbound queue full");
      } else {
        send(element, bytes);
      }
    }

    private void send(Object element, long bytes) {
      pending.add(new Queued(element, bytes));
      pendingBytes += bytes;
      drain();
    }

    /** Sends the close frame as the session's last message. */
    private void close(int code, String reason) {
      send(frames.render(new RoomProtocol.Close(code, reason)), 0);
      finish();
    }

    /**
     * Nothing more from this side: the wire's end marker follows, and the stage ends once the wire
     * is done and the room has acknowledged what the client sent (at most close-timeout for the wire).
     */
    private void finish() {
      closing = true;
      closingSince = System.nanoTime();
      // before an answer the client's held messages still wait for one: the Join is repeated (RETRY) until GIVE_UP
      Object finished = frames.finished();
      if (finished != null) send(finished, 0);
      if (frames.tick() != null) scheduleWithFixedDelay(TICK, frames.tickInterval(), frames.tickInterval());
      scheduleOnce(CLOSE_TIMEOUT, settings.sessions().closeTimeout());
      pullIfRoom(); // the client's close frame may still be on its way
      drain();
    }

    private void drain() {
      if (isAvailable(out) && !pending.isEmpty()) {
        Queued q = pending.poll();
        pendingBytes -= q.bytes();
        push(out, q.element());
      }
      if (closing && pending.isEmpty()) completeWhenSettled();
    }
  }
}
