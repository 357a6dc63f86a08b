package dev.ripple.collab.room;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.PostStop;
import akka.actor.typed.PreRestart;
import akka.actor.typed.RecipientRef;
import akka.actor.typed.SupervisorStrategy;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.sharding.typed.ShardingEnvelope;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.SnapshotAdapter;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.Effect;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import dev.ripple.collab.backup.BackupException;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.config.WebhookSettings;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.backup.SnapshotBackup;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.LogSafe;
import dev.ripple.collab.protocol.Presence;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.yjs.DocJson;
import dev.ripple.collab.yjs.PendingLimitException;
import dev.ripple.collab.yjs.StateVectors;
import dev.ripple.collab.yjs.UpdateFormatException;
import dev.ripple.collab.yjs.Updates;
import dev.ripple.collab.yjs.YDoc;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
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
  /** How long an encoded full state is kept for the next newcomers. */
  static final Duration STATE_CACHE_TTL = Duration.ofSeconds(5);

  // ------------------------------------------------------------------ protocol

  /** What sessions (and tests) tell a room. */
  public sealed interface Command {}

  /** A connection opened; the room answers with its sync step 1 and the awareness states. */
  public record Join(String connectionId, ActorRef<Outbound> session, boolean readOnly) implements Command {}

  /** A connection closed: its awareness states are removed and the removal announced. */
  public record Leave(String connectionId) implements Command {}

  /**
   * A decoded message from a client; {@code coalesced} client messages merged into it by the session
   * (updates merged into one, awareness reduced to the newest state per client id). The room answers
   * each with {@link Ack} once it has handled it (an update: once journaled), which reopens the
   * session's window.
   */
  public record FromClient(String connectionId, SyncProtocol.ClientMessage message, int coalesced) implements Command {
    public FromClient(String connectionId, SyncProtocol.ClientMessage message) {
      this(connectionId, message, 1);
    }
  }

  /**
   * The document API (server to server): the full state as one update, or what a state vector lacks
   * ({@code stateVector} null or empty: everything).
   */
  public record ReadUpdate(byte[] stateVector, ActorRef<DocumentReply> replyTo) implements Command {}

  /** The document API: named root types rendered as JSON (kind to names: text, map, array, xml). */
  public record ReadJson(Map<String, List<String>> roots, ActorRef<DocumentReply> replyTo) implements Command {}

  /** The document API: an update from the app's backend, applied like a client's (validated, journaled, broadcast). */
  public record ApplyUpdate(byte[] update, ActorRef<DocumentReply> replyTo) implements Command {}

  /** What the room answers the document API. */
  public sealed interface DocumentReply {}

  /** A read's result: a Yjs update or a JSON text. */
  public record DocumentData(byte[] data) implements DocumentReply {}

  /** An update is journaled (and broadcast); {@code updates}: the room's count of journaled updates. */
  public record UpdateJournaled(long updates) implements DocumentReply {}

  /** A request was refused: a client error (400 malformed, 413 over the pending cap) with a reason. */
  public record UpdateRefused(int status, String code, String message) implements DocumentReply {}

  /** A session's stage stopped (watched by the room): its socket is gone even if its Leave never comes. */
  private record SessionStopped(String connectionId, ActorRef<Outbound> session) implements Command {}

  /** Alarm: the periodic save while connections exist. */
  private record PeriodicSave() implements Command {}

  /** Alarm: the debounced save after the last connection left (or a retry later). */
  private record FinalSave() implements Command {}

  /** Alarm: retry a failed save. */
  private record RetrySave() implements Command {}

  /** A save finished, covering the first {@code updates} updates: stored, or refused for a newer backup ({@code result}), or failed. */
  private record SaveDone(long updates, SnapshotBackup.SaveResult result, Throwable failure) implements Command {}

  /** After a refused save: the backup's newer snapshot, loaded to be merged (empty: it is gone), or the load failed. */
  private record CatchUpLoaded(Optional<SnapshotBackup.Backup> backup, Throwable failure) implements Command {}

  /** Alarm: retry a failed cold-start load. */
  private record RetryLoad() implements Command {}

  /** The cold-start load finished: the backup (empty = new document), or failed. */
  private record LoadDone(Optional<SnapshotBackup.Backup> backup, Throwable failure) implements Command {}

  /** Alarm: hand the notification of the changes so far to the room's {@link WebhookOutbox}. */
  private record Notify() implements Command {}

  /** From the room's webhook outbox: it holds the notification of the first {@code updates} updates durably; the room may stop. */
  public record NotificationAccepted(long updates) implements Command {}

  /** From the room's webhook outbox: the receiver acknowledged the notification of the first {@code updates} updates. */
  public record NotificationDelivered(long updates) implements Command {}

  /** Alarm: relay the awareness changes gathered since the last relay, as one frame. */
  private record RelayPresence() implements Command {}

  /**
   * Sharding's stop message (passivation, hand-off). A room with no connection stops at once. One
   * that has some (a Join that crossed its passivation, a rebalance) first tells each session to
   * {@link Rejoin}, keeps handling what they sent until each has left, and stops then, or after
   * {@code ripple.sessions.rejoin-timeout} at most: the connections move to the next incarnation
   * without closing, and nothing they sent meets a stopped room.
   */
  public record Stop() implements Command {
    public static final Stop INSTANCE = new Stop();
  }

  /** Alarm: the sessions told to rejoin took too long to leave; stop anyway (they still rejoin). */
  private record StopNow() implements Command {}

  /** The encoded full state has been kept long enough: a quiet room does not hold its document twice. */
  private record DropStateCache() implements Command {}

  /** What a room tells a session. Frames are encoded once and shared by every recipient. */
  public sealed interface Outbound {}

  public record Send(byte[] frame) implements Outbound {}

  /**
   * Sent to a session when it joins: the room's own address. The session watches it and, should the
   * room stop (its node left or died, or it moved), closes its socket with 1012 so the client
   * reconnects and resyncs with the room at its new home.
   */
  public record Joined(ActorRef<Command> room) implements Outbound {}

  public record Close(int code, String reason) implements Outbound {}

  /**
   * The room is stopping (see {@link Stop}): the session sends nothing more to it, leaves, and joins
   * the room again through sharding, sending there what this incarnation has not acknowledged.
   * {@code stateVector}: the document as this incarnation last sent it to the session; the session
   * asks the next incarnation for what is newer, on the client's behalf.
   */
  public record Rejoin(byte[] stateVector) implements Outbound {}

  /** The room has handled one {@link FromClient} of this session (an update: it is in the journal). */
  public record Ack() implements Outbound {
    public static final Ack INSTANCE = new Ack();
  }

  /** Journaled facts. */
  public sealed interface Event {}

  /** A client update, as received; replaying the journal replays the document. */
  public record UpdateApplied(byte[] update) implements Event {}

  /** The room compacted its journal into a snapshot (room emptied, or history limits reached). */
  public record Compacted() implements Event {}

  /**
   * The backup was loaded at cold start (empty array: there was none, a new document), covering
   * {@code updates} updates of the room's earlier life: the count continues above it, so the next
   * saves are newer than the backup's (journal entries from before the count read as 0). Also what a
   * room journals when it catches up after a refused save: {@code state} is then what the backup had
   * and the room lacked (possibly nothing), merged like a client update, and the count again continues
   * above the backup's.
   */
  public record BackupLoaded(byte[] state, long updates) implements Event {}

  /** The backup confirmed a save covering the first {@code updates} journaled updates. */
  public record BackupConfirmed(long updates) implements Event {}

  /** The webhook acknowledged (2xx) a notification covering the first {@code updates} journaled updates. */
  public record WebhookDelivered(long updates) implements Event {}

  /** The snapshot payload: the full document state as one Yjs update, and the backup bookkeeping. */
  public record Snapshot(byte[] state, long updates, long savedUpdates, boolean loaded, long notifiedUpdates) {}

  /** The document plus counters since the last compaction. Mutated only by the event handler. */
  public static final class State {
    final YDoc doc;
    /**
     * Updates journaled since the room was created, plus those its cold-start backup covered; the
     * backup has the first {@link #savedUpdates}.
     */
    long updates;
    long savedUpdates;
    /** The webhook has been told of the first {@link #notifiedUpdates}; a notification is owed past them (persisted, like the save). */
    long notifiedUpdates;
    /** Whether the cold-start load succeeded (or this room began with local state): no save before it. */
    boolean loaded;
    long updatesSinceCompaction;
    long bytesSinceCompaction;
    /** The update the command handler validated, so the event handler applies it without decoding again. */
    YDoc.PreparedUpdate prepared;
    byte[] preparedBytes;
    /**
     * Full state, encoded once for the newcomers, saves and snapshots of the next
     * {@link Room#STATE_CACHE_TTL} (a reconnect storm encodes it once), until the document changes.
     */
    byte[] fullStateCache;

    State(YDoc doc) {
      this.doc = doc;
    }

    public YDoc doc() {
      return doc;
    }

    /** A save is owed: the durable alarm, part of the persisted state. */
    public boolean dirty() {
      return updates > savedUpdates;
    }

    public boolean loaded() {
      return loaded;
    }
  }

  private record Connection(ActorRef<Outbound> session, boolean readOnly) {}

  // ------------------------------------------------------------------ setup

  /**
   * Sharding of rooms. Remember-entities is on (conf), so a room that stops without passivating
   * (crash, node loss) is started again and makes the save it owes: the durable alarm.
   */
  public static void init(ActorSystem<?> system, Settings settings, SnapshotBackup backup, Optional<Webhooks> webhooks) {
    ClusterSharding sharding = ClusterSharding.get(system);
    webhooks.ifPresent(w -> WebhookOutbox.init(system, w)); // notifications owed outlive their rooms there
    Optional<WebhookSettings> hooks = webhooks.map(Webhooks::settings);
    Entity<Command, ShardingEnvelope<Command>> entity = Entity.of(ENTITY_TYPE_KEY,
        ctx -> WarmupRooms.isWarmupRoom(ctx.getEntityId())
            // a node's throwaway warm-up room: never read from or saved to the backup, no webhooks
            ? create(ctx.getEntityId(), settings, WarmupRooms.NO_BACKUP, Optional.empty(), null, ctx.getShard())
            : create(ctx.getEntityId(), settings, backup, hooks,
                hooks.isPresent() ? sharding.entityRefFor(WebhookOutbox.ENTITY_TYPE_KEY, ctx.getEntityId()) : null, ctx.getShard()))
        .withStopMessage(Stop.INSTANCE); // passivation and hand-off: connections rejoin rather than close
    String placement = system.settings().config().getString("ripple.cluster.room-placement");
    switch (placement) {
      case "balanced" -> { } // Akka's default: least shards per node, rebalanced
      case "near-clients" -> entity = entity.withAllocationStrategy(new NearClientsAllocation());
      default -> throw new IllegalArgumentException("ripple.cluster.room-placement must be balanced or near-clients, not " + placement);
    }
    sharding.init(entity);
  }

  /** @param shard where to ask for passivation; null outside sharding (the room then just stops) */
  public static Behavior<Command> create(String roomId, Settings settings, SnapshotBackup backup,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    return create(roomId, settings, backup, Optional.empty(), null, shard);
  }

  /**
   * @param hooks change notifications, when configured (then {@code outbox} is this room's {@link WebhookOutbox})
   * @param outbox where the room hands the notifications it owes; null when webhooks are off
   *
   * <p>The room under its backstop: bad input never fails a room (it is answered to its sender), so an
   * exception out of a handler is a bug (or a stash that overflowed). Rather than stop, and close
   * every connection with 1012, the room restarts after a backoff ({@code ripple.room-restart}): the
   * new incarnation, at the same address, recovers from the journal, and the sessions, told to
   * {@link Rejoin} as the old one fails (see {@code PreRestart} in {@link #signalHandler}), join it
   * and send again what was not acknowledged. Commands that arrive during the backoff wait for it.
   * A journal failure is not caught here: Akka's own persist-failure handling stops the room as
   * before (its clients get 1012 and reconnect; remember-entities starts it again).
   */
  public static Behavior<Command> create(String roomId, Settings settings, SnapshotBackup backup, Optional<WebhookSettings> hooks,
      RecipientRef<WebhookOutbox.Command> outbox, ActorRef<ClusterSharding.ShardCommand> shard) {
    Settings.RoomRestart restart = settings.roomRestart();
    return Behaviors.supervise(
            Behaviors.<Command>setup(ctx -> Behaviors.withTimers(timers ->
                new Room(ctx, timers, roomId, settings, backup, hooks.orElse(null), outbox, shard))))
        .onFailure(RuntimeException.class, SupervisorStrategy.restartWithBackoff(restart.minBackoff(), restart.maxBackoff(), restart.randomFactor())
            .withStashCapacity(settings.roomStashCapacity()));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final String roomId;
  private final Settings settings;
  private final Settings.Alarms alarms;
  private final SnapshotBackup backup;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final LinkedHashMap<String, Connection> connections = new LinkedHashMap<>();
  private final Presence presence;
  private final Metrics metrics;
  // not persisted: what is in flight right now
  private boolean saving;
  private int saveFailures;
  /** Saves refused in a row for a newer backup: a second refusal right after a catch-up waits with backoff. */
  private int saveRefusals;
  private boolean loadingBeforeServing;
  private int loadFailures;
  /** Change notifications' timing; null when off. */
  private final WebhookSettings hooks;
  /** This room's webhook outbox, which delivers what the room hands it; null when off. */
  private final RecipientRef<WebhookOutbox.Command> outbox;
  /** The count the outbox holds a notification for (or delivered): up to it, the room may stop. */
  private long acceptedUpdates;
  /** The count last handed to the outbox, awaiting its acceptance. */
  private long handedUpdates;
  /** When the oldest change not yet handed to the outbox was journaled (System.nanoTime), 0 when none. */
  private long owedSince;
  /** Sharding asked the room to stop and its sessions have been told to rejoin: it stops once they have left. */
  private boolean stopping;

  private Room(ActorContext<Command> ctx, TimerScheduler<Command> timers, String roomId, Settings settings,
      SnapshotBackup backup, WebhookSettings hooks, RecipientRef<WebhookOutbox.Command> outbox,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    super(PersistenceId.of(ENTITY_TYPE_KEY.name(), roomId));
    this.ctx = ctx;
    this.timers = timers;
    this.roomId = roomId;
    this.settings = settings;
    this.alarms = settings.alarms();
    this.backup = backup;
    this.shard = shard;
    this.hooks = hooks;
    this.outbox = outbox;
    this.metrics = Metrics.get(ctx.getSystem());
    this.presence = new Presence(settings.presenceLimits());
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
        return new Snapshot(fullState(state), state.updates, state.savedUpdates, state.loaded, state.notifiedUpdates);
      }

      @Override
      public State fromJournal(Object from) {
        Snapshot snap = (Snapshot) from;
        State s = new State(newDoc());
        s.doc.apply(snap.state());
        s.updates = snap.updates();
        s.savedUpdates = snap.savedUpdates();
        s.loaded = snap.loaded();
        s.notifiedUpdates = snap.notifiedUpdates();
        return s;
      }
    };
  }

  // ------------------------------------------------------------------ commands

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(LoadDone.class, this::onLoadDone)
        .onCommand(RetryLoad.class, (state, c) -> {
          startLoad();
          return Effect().none();
        })
        .onCommand(Stop.class, this::onStop)
        .onCommand(StopNow.class, (state, c) -> Effect().stop())
        .onCommand(c -> loadingBeforeServing, (state, c) -> Effect().stash()) // a cold room answers nobody before its backup is in
        .onCommand(Join.class, this::onJoin)
        .onCommand(Leave.class, this::onLeave)
        .onCommand(SessionStopped.class, this::onSessionStopped)
        .onCommand(ReadUpdate.class, this::onReadUpdate)
        .onCommand(ReadJson.class, this::onReadJson)
        .onCommand(ApplyUpdate.class, this::onApplyUpdate)
        .onCommand(FromClient.class, this::onFromClient)
        .onCommand(PeriodicSave.class, (state, c) -> save(state))
        .onCommand(RetrySave.class, (state, c) -> save(state))
        .onCommand(FinalSave.class, this::onFinalSave)
        .onCommand(SaveDone.class, this::onSaveDone)
        .onCommand(CatchUpLoaded.class, this::onCatchUpLoaded)
        .onCommand(Notify.class, this::onNotify)
        .onCommand(NotificationAccepted.class, this::onNotificationAccepted)
        .onCommand(NotificationDelivered.class, this::onNotificationDelivered)
        .onCommand(RelayPresence.class, (state, c) -> {
          relayPresence();
          return Effect().none();
        })
        .onCommand(DropStateCache.class, (state, c) -> {
          state.fullStateCache = null;
          return Effect().none();
        })
        .build();
  }

  // ------------------------------------------------------------------ lifecycle: load, save, passivate

  @Override
  public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(PreRestart.instance(), state -> {
          // the backstop (see create): this incarnation failed and the next one, at the same address, recovers from the
          // journal. Its sessions join that one and send again what this one did not acknowledge; nobody is closed.
          metrics.roomsActive.decrementAndGet();
          log.warn("room {}: restarting after a failure; its {} connections rejoin", roomId, connections.size());
          if (stopping) return; // told to rejoin already
          Rejoin rejoin = new Rejoin(state.doc.stateVector());
          for (Connection c : connections.values()) c.session().tell(rejoin);
        })
        .onSignal(PostStop.instance(), state -> {
          metrics.roomsActive.decrementAndGet();
          // stopped with connections open and without telling them to rejoin (a failure): close them now, not when
          // the node is gone; the client's reconnect resyncs
          if (!stopping) for (Connection c : connections.values()) c.session().tell(new Close(CloseCodes.SERVICE_RESTART, "room moved"));
        })
        .onSignal(RecoveryCompleted.instance(), state -> {
          metrics.roomsActive.incrementAndGet();
          if (!state.loaded) {
            // a new room loads its backup before answering anyone; a room whose earlier load failed retries it
            loadingBeforeServing = state.updates == 0;
            startLoad();
          } else {
            // restarted (crash, rebalance, remember-entities): make the save it owes, or passivate unless someone comes
            timers.startSingleTimer("final", new FinalSave(), alarms.debounce());
          }
          // a notification owed before the stop is still owed: the outbox takes it (or, delivered meanwhile, says so)
          if (notificationOwed(state)) handOff(state);
        })
        .build();
  }

  private void startLoad() {
    metrics.backupLoads.increment();
    ctx.pipeToSelf(backup.load(roomId), (result, failure) -> new LoadDone(result, failure));
  }

  private Effect<Event, State> onLoadDone(State state, LoadDone done) {
    if (state.loaded) return Effect().none(); // the answer to an earlier incarnation's load (it restarted): this one loaded already
    if (done.failure() != null) {
      loadFailures++;
      Duration retry = backoff(loadFailures, alarms.loadRetryMax());
      log.warn("room {}: backup load failed ({}); retrying in {} s; clients may edit, nothing is saved until the load succeeds",
          roomId, describe(done.failure()), retry.toSeconds());
      timers.startSingleTimer("retry-load", new RetryLoad(), retry);
      if (loadingBeforeServing) {
        loadingBeforeServing = false;
        return Effect().none().thenUnstashAll();
      }
      return Effect().none();
    }
    byte[] loaded = done.backup().map(SnapshotBackup.Backup::state).orElse(new byte[0]);
    long loadedUpdates = done.backup().map(SnapshotBackup.Backup::updates).orElse(0L);
    if (loaded.length > 0) {
      try {
        state.doc.prepare(loaded); // a backup that is not a Yjs update must not become the document
      } catch (RuntimeException e) {
        log.error("room {}: the backup is not a valid Yjs update ({}); it is kept as it is and this room never saves over it",
            roomId, e.getMessage());
        loadingBeforeServing = false;
        return Effect().none().thenUnstashAll();
      }
    }
    loadFailures = 0;
    backupMerged = true; // the document starts from the backup
    boolean wasBlocking = loadingBeforeServing;
    loadingBeforeServing = false;
    byte[] frame = loaded.length > 0 ? SyncProtocol.update(loaded) : null;
    return Effect().persist(new BackupLoaded(loaded, loadedUpdates)).thenRun(s -> {
      documentBytesBound = -1; // the backup changed the document: measure again
      if (!wasBlocking && frame != null) broadcast(frame, null); // a late load is an update like any other
      // everyone left while the load was failing: the save they are owed could not be made before; schedule it now
      // (also a room started by no one, e.g. remember-entities, passivates unless someone comes)
      if (connections.isEmpty()) timers.startSingleTimer("final", new FinalSave(), alarms.debounce());
    }).thenUnstashAll();
  }

  /**
   * Whether this incarnation's document already holds the backup: it loaded it (cold start) or merged
   * it (catch-up). A room that started from its local journal has not: the backup may hold edits
   * another node (or an earlier volume) made since, whatever the counts say.
   */
  private boolean backupMerged;

  /** Saves the full state if a save is owed and allowed (after the load, one at a time, not empty). */
  private Effect<Event, State> save(State state) {
    if (!state.loaded || saving || !state.dirty()) return Effect().none();
    byte[] full = fullState(state);
    long covered = state.updates;
    if (full.length <= 2) return Effect().persist(new BackupConfirmed(covered)); // an empty document is not saved
    saving = true;
    if (!backupMerged) {
      // the first save of an incarnation that started from its journal: merge the backup first, so that a save
      // never replaces content the backup has and this room lacks (counts alone cannot tell)
      metrics.backupLoads.increment();
      ctx.pipeToSelf(backup.load(roomId), (result, failure) -> new CatchUpLoaded(result, failure));
      return Effect().none();
    }
    long started = System.nanoTime();
    ctx.pipeToSelf(backup.save(roomId, full, covered), (result, failure) -> {
      metrics.backupSaveSeconds.observeNanos(System.nanoTime() - started);
      (failure != null ? metrics.backupSavesFailed
          : result instanceof SnapshotBackup.SaveResult.KeptNewer ? metrics.backupSavesRefused : metrics.backupSavesOk).increment();
      return new SaveDone(covered, result, failure);
    });
    return Effect().none();
  }

  private Effect<Event, State> onSaveDone(State state, SaveDone done) {
    if (done.failure() != null) {
      saving = false;
      return saveFailed(describe(done.failure()));
    }
    if (done.result() instanceof SnapshotBackup.SaveResult.KeptNewer kept) {
      // not saved: the backup holds a snapshot covering more updates (another node served this room since this
      // one's journal was written). Taking that for confirmed would let a later save, once the count passes the
      // backup's, overwrite the other node's edits: catch up with them first. Still "saving": no passivation.
      log.info("room {}: the backup keeps a newer snapshot (covering {} updates; this save covered {}); merging it, then saving again",
          roomId, kept.updates().isPresent() ? Long.toString(kept.updates().getAsLong()) : "more", done.updates());
      saveRefusals++;
      metrics.backupLoads.increment();
      ctx.pipeToSelf(backup.load(roomId), (result, failure) -> new CatchUpLoaded(result, failure));
      return Effect().none();
    }
    saving = false;
    saveFailures = 0;
    saveRefusals = 0;
    return Effect().persist(new BackupConfirmed(done.updates())).thenRun(s -> {
      if (!connections.isEmpty() || timers.isTimerActive("final")) return;
      // changes that arrived during the save are owed a save of their own (a FinalSave that fired meanwhile found
      // a save running and did nothing); otherwise the room is done
      if (s.dirty()) timers.startSingleTimer("final", new FinalSave(), alarms.debounce());
      else passivate(s);
    });
  }

  /** A save that failed (or whose catch-up failed) is retried with backoff, then later; the room stays dirty. */
  private Effect<Event, State> saveFailed(String why) {
    saveFailures++;
    if (saveFailures <= alarms.retries()) {
      Duration retry = alarms.retryInitial().multipliedBy(1L << (saveFailures - 1));
      log.warn("room {}: backup save failed ({}); retry {} of {} in {} s", roomId, why, saveFailures, alarms.retries(), retry.toSeconds());
      timers.startSingleTimer("retry-save", new RetrySave(), retry);
    } else {
      log.error("room {}: backup save failed {} times ({}); the room stays dirty and tries again in {}",
          roomId, saveFailures - 1, why, alarms.retryLater().toSeconds() + " s");
      saveFailures = 0;
      if (connections.isEmpty()) timers.startSingleTimer("final", new FinalSave(), alarms.retryLater());
    }
    return Effect().none();
  }

  /**
   * The newer backup a refused save pointed at: what it has and the room lacks is merged like a client
   * update (journaled, then broadcast; Yjs updates commute, so nothing of either side is lost), the count
   * continues above the backup's, and the merged state is saved at once. Only a stored save confirms.
   */
  private Effect<Event, State> onCatchUpLoaded(State state, CatchUpLoaded done) {
    saving = false;
    if (done.failure() != null) return saveFailed("loading the newer backup to merge it: " + describe(done.failure()));
    if (done.backup().isEmpty()) { // none (or gone meanwhile): nothing to merge, the next save is stored
      backupMerged = true;
      ctx.getSelf().tell(new RetrySave());
      return Effect().none();
    }
    SnapshotBackup.Backup newer = done.backup().get();
    byte[] missing;
    try {
      missing = newer.state().length == 0 ? new byte[0] : Updates.diffUpdate(newer.state(), state.doc.stateVector());
      if (missing.length > 0) {
        YDoc.PreparedUpdate prepared = state.doc.prepare(missing); // the same checks as a client's update
        if (prepared.isEmpty() || prepared.isRedundant()) missing = new byte[0];
      }
    } catch (RuntimeException e) {
      log.error("room {}: the newer backup is not a valid Yjs update ({}); it is not merged", roomId, e.getMessage());
      return saveFailed("the newer backup cannot be merged: " + e.getMessage());
    }
    byte[] frame = missing.length > 0 ? SyncProtocol.update(missing) : null;
    backupMerged = true;
    // the count goes just past the backup's (the merged state covers all of it), never further: a room that
    // merges at every start must not double its count each time
    long bump = newer.updates() >= state.updates ? newer.updates() - state.updates + 1 : 0;
    if (missing.length == 0 && bump == 0) { // the room has all of it and counts more: the save is stored as it is
      ctx.getSelf().tell(new RetrySave());
      return Effect().none();
    }
    return Effect().persist(new BackupLoaded(missing, bump)).thenRun(s -> {
      documentBytesBound = -1; // the backup changed the document: measure again
      if (frame != null) broadcast(frame, null); // the other node's edits reach this room's clients
      // the merged state, covering more updates than the backup's; refused again right after a catch-up (a backup
      // that refuses everything, or a node saving as fast), it waits with the failures' backoff instead of looping
      if (saveRefusals <= 1) ctx.getSelf().tell(new RetrySave());
      else saveFailed("refused " + saveRefusals + " times in a row for a newer backup");
    });
  }

  private Effect<Event, State> onFinalSave(State state, FinalSave c) {
    if (!connections.isEmpty()) return Effect().none();
    if (state.dirty() && state.loaded) return save(state);
    if (!state.loaded || saving || timers.isTimerActive("retry-save")) return Effect().none(); // keep trying first
    passivate(state);
    return Effect().none();
  }

  private void passivate(State state) {
    if (notificationOwed(state) && acceptedUpdates < state.updates) {
      // the notification owed goes to the outbox first (no need to wait out its debounce: nobody is editing);
      // its acceptance passivates the room
      handOff(state);
      return;
    }
    log.debug("room {}: passivating", roomId);
    if (shard != null) shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf())); // null only in tests without sharding
  }

  private static Duration backoff(int failures, Duration max) {
    long seconds = Math.min(max.toSeconds(), 2L << Math.min(failures - 1, 20));
    return Duration.ofSeconds(seconds);
  }

  private static String describe(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    if (c instanceof BackupException b) return "status " + b.status() + ": " + b.getMessage();
    return c.toString();
  }

  private Effect<Event, State> onStop(State state, Stop stop) {
    if (connections.isEmpty()) return Effect().stop();
    if (stopping) return Effect().none();
    log.debug("room {}: stopping with {} connections; they rejoin", roomId, connections.size());
    stopping = true;
    Rejoin rejoin = new Rejoin(state.doc.stateVector());
    for (Connection c : connections.values()) c.session().tell(rejoin);
    timers.startSingleTimer("stop", new StopNow(), settings.sessions().rejoinTimeout());
    return Effect().none();
  }

  private Effect<Event, State> onJoin(State state, Join join) {
    if (stopping) { // sharding holds Joins while a room stops; one that comes anyway goes to the next incarnation
      join.session().tell(new Rejoin(state.doc.stateVector()));
      return Effect().none();
    }
    Connection known = connections.get(join.connectionId());
    if (known != null && known.session().equals(join.session())) {
      // the session repeated its Join before our answer reached it: answer again, sync once
      join.session().tell(new Joined(ctx.getSelf()));
      return Effect().none();
    }
    if (connections.size() >= settings.maxConnectionsPerRoom()) {
      // the upgrade is refused past the limit on the node that counts; a Join that comes anyway (another node's) is closed
      log.info("room {}: full ({} connections); closing connection {} with 1013", roomId, connections.size(), join.connectionId());
      join.session().tell(new Close(CloseCodes.TRY_AGAIN_LATER, "room is full"));
      return Effect().none();
    }
    timers.cancel("final"); // a reconnect inside the debounce window: no final save, periodic saving resumes
    if (connections.isEmpty()) timers.startTimerWithFixedDelay("periodic", new PeriodicSave(), alarms.period());
    connections.put(join.connectionId(), new Connection(join.session(), join.readOnly()));
    // a session whose node dies, or whose Leave is lost, still leaves: the room watches it
    ctx.watchWith(join.session(), new SessionStopped(join.connectionId(), join.session()));
    join.session().tell(new Joined(ctx.getSelf()));
    join.session().tell(new Send(SyncProtocol.syncStep1(state.doc.stateVector())));
    byte[] states = presence.encodeAll();
    if (states != null) join.session().tell(new Send(SyncProtocol.awareness(states)));
    return Effect().none();
  }

  private Effect<Event, State> onSessionStopped(State state, SessionStopped stopped) {
    Connection c = connections.get(stopped.connectionId());
    if (c == null || !c.session().equals(stopped.session())) return Effect().none();
    log.debug("room {}: connection {} stopped without leaving", roomId, stopped.connectionId());
    return onLeave(state, new Leave(stopped.connectionId()));
  }

  private Effect<Event, State> onLeave(State state, Leave leave) {
    Connection c = connections.remove(leave.connectionId());
    if (c != null) {
      ctx.unwatch(c.session());
      presence.removeConnection(leave.connectionId());
      schedulePresenceRelay();
    }
    if (stopping) return connections.isEmpty() ? Effect().stop() : Effect().none();
    if (c != null && connections.isEmpty()) {
      timers.cancel("periodic");
      timers.startSingleTimer("final", new FinalSave(), alarms.debounce());
      if (settings.persistenceMode() == Settings.PersistenceMode.SNAPSHOT && state.updatesSinceCompaction > 0) {
        return Effect().persist(new Compacted());
      }
    }
    return Effect().none();
  }

  private Effect<Event, State> onFromClient(State state, FromClient msg) {
    Connection c = connections.get(msg.connectionId());
    if (c == null) return Effect().none(); // a message racing its connection's close
    try {
      SyncProtocol.ClientMessage m = msg.message();
      if (m instanceof SyncProtocol.SyncUpdate update) {
        return onUpdate(state, msg.connectionId(), c, update.update(), msg.coalesced());
      }
      if (m instanceof SyncProtocol.SyncStep1 step1) {
        c.session().tell(new Send(SyncProtocol.syncStep2(diffFor(state, step1.stateVector()))));
      } else if (m instanceof SyncProtocol.AwarenessUpdate aw) {
        // validated by the session; a message from another node's session carries only its bytes
        presence.apply(msg.connectionId(), aw.entries() != null ? aw.entries() : Presence.decode(aw.update(), presence.limits()));
        schedulePresenceRelay();
      } else if (m instanceof SyncProtocol.SavedRequest saved) {
        // commands are handled in order and a journal write holds the next ones back until it is done, so
        // every update this connection sent before is journaled by now: answer with the client's own message
        c.session().tell(new Send(saved.frame()));
      } else if (m instanceof SyncProtocol.QueryAwareness) {
        byte[] all = presence.encodeAll();
        if (all != null) c.session().tell(new Send(SyncProtocol.awareness(all)));
      }
      c.session().tell(Ack.INSTANCE);
      return Effect().none();
    } catch (ProtocolException e) {
      closeConnection(msg.connectionId(), c, e.closeCode(), e.getMessage());
      return Effect().none();
    } catch (UpdateFormatException e) {
      closeConnection(msg.connectionId(), c, CloseCodes.INVALID_PAYLOAD, e.getMessage());
      return Effect().none();
    } catch (RuntimeException e) {
      // a message the checks above let through and the room still could not handle: a bug, but this connection's
      // message. Only it is closed; a restart would have the session send the same message again, to every incarnation.
      log.error("room {}: connection {} sent a message the room failed on; closing it with 1011", roomId, msg.connectionId(), e);
      closeConnection(msg.connectionId(), c, CloseCodes.INTERNAL_ERROR, "internal error handling the message");
      return Effect().none();
    }
  }

  /** The document API's read of the full state or of what a state vector lacks; a malformed vector is refused, 400. */
  private Effect<Event, State> onReadUpdate(State state, ReadUpdate c) {
    try {
      c.replyTo().tell(new DocumentData(c.stateVector() == null ? fullState(state) : diffFor(state, c.stateVector())));
    } catch (UpdateFormatException e) { // checked by the document API first; a node that did not check is answered the same
      c.replyTo().tell(new UpdateRefused(400, "bad_state_vector", "stateVector is not a Yjs state vector: " + e.getMessage()));
    } catch (RuntimeException e) {
      refuseUnexpected(c.replyTo(), "read", e);
    }
    return Effect().none();
  }

  private Effect<Event, State> onReadJson(State state, ReadJson c) {
    try {
      c.replyTo().tell(new DocumentData(DocJson.render(state.doc, c.roots()).getBytes(StandardCharsets.UTF_8)));
    } catch (IllegalArgumentException e) { // a kind or a name no root can have
      c.replyTo().tell(new UpdateRefused(400, "bad_request", e.getMessage()));
    } catch (RuntimeException e) {
      refuseUnexpected(c.replyTo(), "JSON read", e);
    }
    return Effect().none();
  }

  /** A document API request the room failed on (a bug): 500 to its caller, the room carries on. */
  private void refuseUnexpected(ActorRef<DocumentReply> replyTo, String what, RuntimeException e) {
    log.error("room {}: a document API {} failed", roomId, what, e);
    replyTo.tell(new UpdateRefused(500, "internal_error", "the room failed on this request: " + LogSafe.of(String.valueOf(e))));
  }

  /**
   * Awareness changes are relayed once per relay interval, as one frame to every connection, the
   * sender included (a lone YPartyKitProvider needs the echo to stay connected): N clients moving their
   * cursors cost N frames per interval instead of N x N.
   */
  private void schedulePresenceRelay() {
    Duration interval = settings.presence().relayInterval();
    if (interval.isZero()) relayPresence();
    else if (!timers.isTimerActive("presence")) timers.startSingleTimer("presence", new RelayPresence(), interval);
  }

  private void relayPresence() {
    byte[] changes = presence.flush();
    if (changes != null) broadcast(SyncProtocol.awareness(changes), null);
  }

  /** The full state; when it is encoded anew, the cache is dropped {@link #STATE_CACHE_TTL} later. */
  private byte[] fullState(State state) {
    if (state.fullStateCache == null) {
      state.fullStateCache = state.doc.encodeStateAsUpdate();
      timers.startSingleTimer("drop-state-cache", new DropStateCache(), STATE_CACHE_TTL);
    }
    return state.fullStateCache;
  }

  /** What {@code stateVector} lacks; a vector that is not wholly one is refused (UpdateFormatException). */
  private byte[] diffFor(State state, byte[] stateVector) {
    StateVectors.validate(stateVector);
    if (stateVector.length == 0 || (stateVector.length == 1 && stateVector[0] == 0)) {
      return fullState(state);
    }
    return state.doc.encodeStateAsUpdate(stateVector);
  }

  /**
   * What the room knows of its document's encoded size: the last exact measure plus every update
   * journaled since (an upper bound: deletes can shrink a document). -1: not measured yet.
   */
  private long documentBytesBound = -1;

  /**
   * Whether {@code update} would take the document past max-document-bytes. Measured exactly (one
   * encoding, which the full-state cache keeps) only when the bound says it might.
   */
  private boolean tooLarge(State state, byte[] update) {
    long cap = settings.maxDocumentBytes();
    if (documentBytesBound >= 0 && documentBytesBound + update.length <= cap) return false;
    documentBytesBound = fullState(state).length;
    return documentBytesBound + update.length > cap;
  }

  private String tooLargeReason(byte[] update) {
    return "document too large: " + documentBytesBound + " bytes, and this update of " + update.length
        + " would pass the room's limit of " + settings.maxDocumentBytes();
  }

  private Effect<Event, State> onUpdate(State state, String connectionId, Connection c, byte[] update, int coalesced) {
    if (c.readOnly()) {
      c.session().tell(new Send(SyncProtocol.permissionDenied("read-only connection: updates are not applied")));
      c.session().tell(Ack.INSTANCE);
      return Effect().none();
    }
    YDoc.PreparedUpdate prepared;
    try {
      prepared = state.doc.prepare(update);
    } catch (PendingLimitException e) {
      closeConnection(connectionId, c, CloseCodes.POLICY_VIOLATION, e.getMessage());
      return Effect().none();
    }
    if (prepared.isEmpty() || prepared.isRedundant()) {
      // nothing new (a client's sync step 2, an update sent again after a rejoin, an echo): no journal entry,
      // no broadcast (everyone has it: it was journaled and broadcast when it was new)
      c.session().tell(Ack.INSTANCE);
      return Effect().none();
    }
    if (tooLarge(state, update)) {
      metrics.updatesRefusedDocumentTooLarge.increment();
      closeConnection(connectionId, c, CloseCodes.TOO_BIG, tooLargeReason(update));
      return Effect().none();
    }
    // journaled: the session's window reopens
    return journalAndBroadcast(state, prepared, update, coalesced, connectionId, s -> c.session().tell(Ack.INSTANCE));
  }

  /**
   * The output gate, for a client's update and the document API's alike: journals a validated update
   * (and a compaction when the history limits are reached), then broadcasts it to every connection but
   * {@code except} and tells the sender ({@code journaled}). Nobody sees the update before the journal has it.
   */
  private Effect<Event, State> journalAndBroadcast(State state, YDoc.PreparedUpdate prepared, byte[] update, int coalesced,
      String except, Consumer<State> journaled) {
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
    long received = System.nanoTime();
    return Effect().persist(events).thenRun(s -> {
      if (documentBytesBound >= 0) documentBytesBound += update.length;
      metrics.journalWriteSeconds.observeNanos(System.nanoTime() - received);
      metrics.updatesApplied.add(coalesced);
      metrics.journalWrites.increment();
      metrics.updateBytes.add(update.length);
      broadcast(frame, except);
      journaled.accept(s);
      changed();
      metrics.fanOutSeconds.observeNanos(System.nanoTime() - received);
    });
  }

  // ------------------------------------------------------------------ change notifications (webhooks)

  private boolean notificationOwed(State state) {
    return hooks != null && state.updates > state.notifiedUpdates;
  }

  /**
   * The room changed (an update is journaled): hand the notification to the outbox after the debounce,
   * but no later than max-delay after the oldest change not yet handed over, however long edits continue.
   */
  private void changed() {
    if (hooks == null) return;
    long now = System.nanoTime();
    if (owedSince == 0) owedSince = now;
    Duration left = hooks.maxDelay().minusNanos(now - owedSince);
    Duration delay = left.compareTo(hooks.debounce()) < 0 ? (left.isNegative() ? Duration.ZERO : left) : hooks.debounce();
    timers.startSingleTimer("notify", new Notify(), delay);
  }

  private Effect<Event, State> onNotify(State state, Notify c) {
    handOff(state);
    return Effect().none();
  }

  /**
   * Hands the notification owed to the outbox, which journals it, delivers it (retried, for as long as it
   * takes) and answers; a hand-off not answered within the request timeout (the outbox's node died) is made again.
   */
  private void handOff(State state) {
    if (!notificationOwed(state) || acceptedUpdates >= state.updates) return;
    timers.cancel("notify");
    owedSince = 0;
    handedUpdates = state.updates;
    outbox.tell(new WebhookOutbox.Deliver(state.updates, state.doc.stateVector(), ctx.getSelf()));
    timers.startSingleTimer("notify-handoff", new Notify(), hooks.requestTimeout());
  }

  private Effect<Event, State> onNotificationAccepted(State state, NotificationAccepted a) {
    accepted(a.updates());
    passivateIfDone(state);
    return Effect().none();
  }

  private Effect<Event, State> onNotificationDelivered(State state, NotificationDelivered d) {
    accepted(d.updates());
    // capped at the room's own count: an outbox that delivered more (a journal restored to an older point) must not
    // silence the notifications of this room's next changes beyond it
    long upTo = Math.min(d.updates(), state.updates);
    if (upTo <= state.notifiedUpdates) {
      passivateIfDone(state);
      return Effect().none();
    }
    return Effect().persist(new WebhookDelivered(upTo)).thenRun(this::passivateIfDone);
  }

  private void accepted(long updates) {
    acceptedUpdates = Math.max(acceptedUpdates, updates);
    if (acceptedUpdates >= handedUpdates) timers.cancel("notify-handoff");
  }

  /** A room that only waited for its notification to be in the outbox's keeping passivates now. */
  private void passivateIfDone(State state) {
    if (connections.isEmpty() && !stopping && !state.dirty() && !saving && !timers.isTimerActive("final")
        && !timers.isTimerActive("retry-save")) {
      passivate(state);
    }
  }

  /** An update from the document API: the same gate as a client's, answered once journaled. */
  private Effect<Event, State> onApplyUpdate(State state, ApplyUpdate c) {
    YDoc.PreparedUpdate prepared;
    try {
      prepared = state.doc.prepare(c.update());
    } catch (PendingLimitException e) {
      c.replyTo().tell(new UpdateRefused(413, "pending_limit", e.getMessage()));
      return Effect().none();
    } catch (UpdateFormatException e) {
      c.replyTo().tell(new UpdateRefused(400, "malformed_update", e.getMessage()));
      return Effect().none();
    } catch (RuntimeException e) {
      refuseUnexpected(c.replyTo(), "update", e);
      return Effect().none();
    }
    if (prepared.isEmpty() || prepared.isRedundant()) { // already in the document: nothing to journal
      c.replyTo().tell(new UpdateJournaled(state.updates));
      return Effect().none();
    }
    if (tooLarge(state, c.update())) {
      metrics.updatesRefusedDocumentTooLarge.increment();
      c.replyTo().tell(new UpdateRefused(413, "document_too_large", tooLargeReason(c.update())));
      return Effect().none();
    }
    return journalAndBroadcast(state, prepared, c.update(), 1, null, s -> c.replyTo().tell(new UpdateJournaled(s.updates)));
  }

  private void broadcast(byte[] frame, String except) {
    Send send = new Send(frame);
    for (Map.Entry<String, Connection> e : connections.entrySet()) {
      if (!e.getKey().equals(except)) e.getValue().session().tell(send);
    }
  }

  private void closeConnection(String connectionId, Connection c, int code, String reason) {
    log.info("room {}: closing connection {} ({}): {}", roomId, connectionId, code, reason);
    metrics.connectionsClosedByServer.increment();
    c.session().tell(new Close(code, reason));
  }

  // ------------------------------------------------------------------ events

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(UpdateApplied.class, this::applyUpdate)
        .onEvent(BackupLoaded.class, (state, e) -> {
          if (e.state().length > 0) {
            try {
              state.doc.apply(e.state());
            } catch (RuntimeException ex) {
              log.error("room {}: journaled backup could not be applied: {}", roomId, ex.toString());
            }
            state.fullStateCache = null;
          }
          state.updates += e.updates();
          state.savedUpdates = Math.max(state.savedUpdates, e.updates());
          state.notifiedUpdates += e.updates(); // what the backup holds is not a change to notify
          state.loaded = true;
          return state;
        })
        .onEvent(BackupConfirmed.class, (state, e) -> {
          state.savedUpdates = Math.max(state.savedUpdates, e.updates());
          return state;
        })
        .onEvent(WebhookDelivered.class, (state, e) -> {
          state.notifiedUpdates = Math.max(state.notifiedUpdates, e.updates());
          return state;
        })
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
    state.updates++;
    state.updatesSinceCompaction++;
    state.bytesSinceCompaction += e.update().length;
    return state;
  }
}
