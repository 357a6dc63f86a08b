package dev.ripple.collab.room;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.SnapshotAdapter;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.Effect;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import akka.persistence.typed.javadsl.RetentionCriteria;
import dev.ripple.collab.Settings;
import dev.ripple.collab.protocol.Awareness;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.yjs.PendingLimitException;
import dev.ripple.collab.yjs.UpdateFormatException;
import dev.ripple.collab.yjs.YDoc;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Yjs document as a Durable Object: a sharded, event-sourced entity that handles one message
 * at a time, journals every accepted update before anyone sees it (the output gate), and relays
 * awareness. Connections and awareness are not persisted: they belong to the live sockets.
 */
public final class Room extends EventSourcedBehavior<Room.Command, Room.Event, Room.State> {
  public static final EntityTypeKey<Command> ENTITY_TYPE_KEY = EntityTypeKey.create(Command.class, "Room");
  private static final Logger log = LoggerFactory.getLogger(Room.class);

  // ------------------------------------------------------------------ protocol

  /** What sessions (and tests) tell a room. */
  public sealed interface Command {}

  /** A connection opened; the room answers with its sync step 1 and the awareness states. */
  public record Join(String connectionId, ActorRef<Outbound> session, boolean readOnly) implements Command {}

  /** A connection closed: its awareness states are removed and the removal announced. */
  public record Leave(String connectionId) implements Command {}

  /** A decoded message from a client. */
  public record FromClient(String connectionId, SyncProtocol.ClientMessage message) implements Command {}

  /** What a room tells a session. Frames are encoded once and shared by every recipient. */
  public sealed interface Outbound {}

  public record Send(byte[] frame) implements Outbound {}

  public record Close(int code, String reason) implements Outbound {}

  /** Journaled facts. */
  public sealed interface Event {}

  /** A client update, as received; replaying the journal replays the document. */
  public record UpdateApplied(byte[] update) implements Event {}

  /** The room compacted its journal into a snapshot (room emptied, or history limits reached). */
  public record Compacted() implements Event {}

  /** The snapshot payload: the full document state as one Yjs update. */
  public record Snapshot(byte[] state) {}

  /** The document plus counters since the last compaction. Mutated only by the event handler. */
  public static final class State {
    final YDoc doc;
    long updatesSinceCompaction;
    long bytesSinceCompaction;
    /** The update the command handler validated, so the event handler applies it without decoding again. */
    YDoc.PreparedUpdate prepared;
    byte[] preparedBytes;
    /** Full state, encoded once for every newcomer until the document changes. */
    byte[] fullStateCache;

    State(YDoc doc) {
      this.doc = doc;
    }

    public YDoc doc() {
      return doc;
    }
  }

  private record Connection(ActorRef<Outbound> session, boolean readOnly, Set<Long> awarenessIds) {}

  // ------------------------------------------------------------------ setup

  public static void init(ActorSystem<?> system, Settings settings) {
    ClusterSharding.get(system).init(Entity.of(ENTITY_TYPE_KEY, ctx -> create(ctx.getEntityId(), settings)));
  }

  public static Behavior<Command> create(String roomId, Settings settings) {
    return Behaviors.setup(ctx -> new Room(ctx, roomId, settings));
  }

  private final String roomId;
  private final Settings settings;
  private final LinkedHashMap<String, Connection> connections = new LinkedHashMap<>();
  private final Awareness awareness = new Awareness();

  private Room(ActorContext<Command> ctx, String roomId, Settings settings) {
    super(PersistenceId.of(ENTITY_TYPE_KEY.name(), roomId));
    this.roomId = roomId;
    this.settings = settings;
  }

  private YDoc newDoc() {
    return new YDoc(new YDoc.Options(true, settings.maxPendingBytes()));
  }

  @Override
  public State emptyState() {
    return new State(newDoc());
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(settings.snapshotEvery(), 2).withDeleteEventsOnSnapshot();
  }

  @Override
  public boolean shouldSnapshot(State state, Event event, long sequenceNr) {
    return event instanceof Compacted;
  }

  @Override
  public SnapshotAdapter<State> snapshotAdapter() {
    return new SnapshotAdapter<>() {
      @Override
      public Object toJournal(State state) {
        return new Snapshot(state.doc.encodeStateAsUpdate());
      }

      @Override
      public State fromJournal(Object from) {
        State s = new State(newDoc());
        s.doc.apply(((Snapshot) from).state());
        return s;
      }
    };
  }

  // ------------------------------------------------------------------ commands

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Join.class, this::onJoin)
        .onCommand(Leave.class, this::onLeave)
        .onCommand(FromClient.class, this::onFromClient)
        .build();
  }

  private Effect<Event, State> onJoin(State state, Join join) {
    connections.put(join.connectionId(), new Connection(join.session(), join.readOnly(), new HashSet<>()));
    join.session().tell(new Send(SyncProtocol.syncStep1(state.doc.stateVector())));
    byte[] states = awareness.encodeAll();
    if (states != null) join.session().tell(new Send(SyncProtocol.awareness(states)));
    return Effect().none();
  }

  private Effect<Event, State> onLeave(State state, Leave leave) {
    Connection c = connections.remove(leave.connectionId());
    if (c != null) {
      byte[] removal = awareness.remove(c.awarenessIds());
      if (removal != null) broadcast(SyncProtocol.awareness(removal), null);
    }
    if (connections.isEmpty() && settings.persistenceMode() == Settings.PersistenceMode.SNAPSHOT
        && state.updatesSinceCompaction > 0) {
      return Effect().persist(new Compacted());
    }
    return Effect().none();
  }

  private Effect<Event, State> onFromClient(State state, FromClient msg) {
    Connection c = connections.get(msg.connectionId());
    if (c == null) return Effect().none(); // a message racing its connection's close
    try {
      SyncProtocol.ClientMessage m = msg.message();
      if (m instanceof SyncProtocol.SyncStep1 step1) {
        c.session().tell(new Send(SyncProtocol.syncStep2(diffFor(state, step1.stateVector()))));
      } else if (m instanceof SyncProtocol.SyncUpdate update) {
        return onUpdate(state, msg.connectionId(), c, update.update());
      } else if (m instanceof SyncProtocol.AwarenessUpdate aw) {
        List<Long> touched = awareness.apply(aw.update());
        c.awarenessIds().addAll(touched);
        // to everyone, the sender included: a lone YPartyKitProvider needs the echo to stay connected
        broadcast(SyncProtocol.awareness(aw.update()), null);
      } else if (m instanceof SyncProtocol.QueryAwareness) {
        byte[] all = awareness.encodeAll();
        if (all != null) c.session().tell(new Send(SyncProtocol.awareness(all)));
      }
      return Effect().none();
    } catch (ProtocolException e) {
      closeConnection(msg.connectionId(), c, e.closeCode(), e.getMessage());
      return Effect().none();
    } catch (UpdateFormatException e) {
      closeConnection(msg.connectionId(), c, CloseCodes.INVALID_PAYLOAD, e.getMessage());
      return Effect().none();
    }
  }

  private byte[] diffFor(State state, byte[] stateVector) {
    if (stateVector.length == 0 || (stateVector.length == 1 && stateVector[0] == 0)) {
      if (state.fullStateCache == null) state.fullStateCache = state.doc.encodeStateAsUpdate();
      return state.fullStateCache;
    }
    return state.doc.encodeStateAsUpdate(stateVector);
  }

  private Effect<Event, State> onUpdate(State state, String connectionId, Connection c, byte[] update) {
    if (c.readOnly()) {
      c.session().tell(new Send(SyncProtocol.permissionDenied("read-only connection: updates are not applied")));
      return Effect().none();
    }
    YDoc.PreparedUpdate prepared;
    try {
      prepared = state.doc.prepare(update);
    } catch (PendingLimitException e) {
      closeConnection(connectionId, c, CloseCodes.POLICY_VIOLATION, e.getMessage());
      return Effect().none();
    }
    state.prepared = prepared;
    state.preparedBytes = update;
    byte[] frame = SyncProtocol.update(update);
    List<Event> events = new ArrayList<>(2);
    events.add(new UpdateApplied(update));
    if (settings.persistenceMode() == Settings.PersistenceMode.HISTORY
        && (state.bytesSinceCompaction + update.length > settings.historyMaxBytes()
            || state.updatesSinceCompaction + 1 >= settings.historyMaxUpdates())) {
      events.add(new Compacted());
    }
    // the output gate: nobody sees the update before the journal has it
    return Effect().persist(events).thenRun(s -> broadcast(frame, connectionId));
  }

  private void broadcast(byte[] frame, String except) {
    Send send = new Send(frame);
    for (Map.Entry<String, Connection> e : connections.entrySet()) {
      if (!e.getKey().equals(except)) e.getValue().session().tell(send);
    }
  }

  private void closeConnection(String connectionId, Connection c, int code, String reason) {
    log.info("room {}: closing connection {} ({}): {}", roomId, connectionId, code, reason);
    c.session().tell(new Close(code, reason));
  }

  // ------------------------------------------------------------------ events

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(UpdateApplied.class, this::applyUpdate)
        .onEvent(Compacted.class, (state, e) -> {
          state.updatesSinceCompaction = 0;
          state.bytesSinceCompaction = 0;
          return state;
        })
        .build();
  }

  private State applyUpdate(State state, UpdateApplied e) {
    try {
      if (state.prepared != null && state.preparedBytes == e.update()) {
        state.doc.apply(state.prepared);
      } else {
        state.doc.apply(e.update()); // recovery: replaying the journal
      }
    } catch (RuntimeException ex) {
      // validated before it was journaled; should a journal still hold a bad update, skip it, keep the room
      log.error("room {}: journaled update could not be applied: {}", roomId, ex.toString());
    } finally {
      state.prepared = null;
      state.preparedBytes = null;
    }
    state.fullStateCache = null;
    state.updatesSinceCompaction++;
    state.bytesSinceCompaction += e.update().length;
    return state;
  }
}
