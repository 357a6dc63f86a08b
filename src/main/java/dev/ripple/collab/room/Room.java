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
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.SnapshotAdapter;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.Effect;
import akka.persistence.typed.javadsl.EffectBuilder;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import dev.ripple.collab.backup.SnapshotBackup;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.config.WebhookSettings;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.Presence;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.BackupSchedule.CatchUpLoaded;
import dev.ripple.collab.room.BackupSchedule.FinalSave;
import dev.ripple.collab.room.BackupSchedule.PeriodicSave;
import dev.ripple.collab.room.BackupSchedule.RetrySave;
import dev.ripple.collab.room.BackupSchedule.SaveDone;
import dev.ripple.collab.room.ColdStart.LoadDone;
import dev.ripple.collab.room.ColdStart.RetryLoad;
import dev.ripple.collab.room.Connections.Connection;
import dev.ripple.collab.room.RoomEvent.Compacted;
import dev.ripple.collab.room.RoomEvent.WebhookDelivered;
import dev.ripple.collab.room.RoomProtocol.Ack;
import dev.ripple.collab.room.RoomProtocol.ApplyUpdate;
import dev.ripple.collab.room.RoomProtocol.Close;
import dev.ripple.collab.room.RoomProtocol.Command;
import dev.ripple.collab.room.RoomProtocol.FromClient;
import dev.ripple.collab.room.RoomProtocol.Join;
import dev.ripple.collab.room.RoomProtocol.Joined;
import dev.ripple.collab.room.RoomProtocol.Leave;
import dev.ripple.collab.room.RoomProtocol.NotificationAccepted;
import dev.ripple.collab.room.RoomProtocol.NotificationDelivered;
import dev.ripple.collab.room.RoomProtocol.Outbound;
import dev.ripple.collab.room.RoomProtocol.ReadJson;
import dev.ripple.collab.room.RoomProtocol.ReadUpdate;
import dev.ripple.collab.room.RoomProtocol.Rejoin;
import dev.ripple.collab.room.RoomProtocol.Send;
import dev.ripple.collab.room.RoomProtocol.Stop;
import dev.ripple.collab.yjs.UpdateFormatException;
import dev.ripple.collab.yjs.YDoc;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Yjs document as a Durable Object: a sharded, event-sourced entity that handles one message at
 * a time. This is its shell: the command table, the signals, joins and leaves, and the sync protocol's
 * dispatch; each behaviour lives in its own part ({@link OutputGate}, {@link BackupSchedule},
 * {@link ColdStart}, {@link Passivation}, {@link PresenceRelay}, {@link ChangeNotification},
 * {@link Connections}), which decides and returns a {@link Step} the shell turns into an effect.
 * Messages are in {@link RoomProtocol}, events in {@link RoomEvent}, the state in {@link RoomState}.
 */
public final class Room extends EventSourcedBehavior<Command, RoomEvent, RoomState> {
  private static final Logger log = LoggerFactory.getLogger(Room.class);

  /** A session's stage stopped (watched by the room): its socket is gone even if its Leave never comes. */
  private record SessionStopped(String connectionId, ActorRef<Outbound> session) implements Command {}

  /**
   * Sharding of rooms. Remember-entities is on (conf), so a room that stops without passivating
   * (crash, node loss) is started again and makes the save it owes: the durable alarm.
   */
  public static void init(ActorSystem<?> system, Settings settings, SnapshotBackup backup, Optional<Webhooks> webhooks) {
    ClusterSharding sharding = ClusterSharding.get(system);
    webhooks.ifPresent(w -> WebhookOutbox.init(system, w)); // notifications owed outlive their rooms there
    Optional<WebhookSettings> hooks = webhooks.map(Webhooks::settings);
    Entity<Command, ShardingEnvelope<Command>> entity = Entity.of(RoomProtocol.ENTITY_TYPE_KEY,
        ctx -> ShardAnchors.isAnchor(ctx.getEntityId()) ? ShardAnchors.behavior() // keeps its shard running (ripple.warmup)
            : WarmupRooms.isWarmupRoom(ctx.getEntityId())
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
   * The room under its backstop ({@code outbox}: its {@link WebhookOutbox}, null without webhooks). Bad
   * input never fails a room, so an exception out of a handler is a bug (or a stash that overflowed):
   * rather than stop and close every connection with 1012, the room restarts after a backoff
   * ({@code ripple.room-restart}), recovers from the journal at the same address, and its sessions,
   * told to {@link Rejoin} in {@code PreRestart}, join it and resend what was not acknowledged. A journal
   * failure still stops the room (Akka's persist-failure handling; remember-entities starts it again).
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
  private final String roomId;
  private final Settings settings;
  private final Metrics metrics;
  private final Connections connections;
  private final EncodedStateCache encoded;
  private final PresenceRelay presence;
  private final ChangeNotification notifications;
  private final OutputGate gate;
  private final BackupSchedule backups;
  private final ColdStart coldStart;
  private final Passivation passivation;
  private final DocumentRequests documents;
  private Phase phase = Phase.SERVING;

  private Room(ActorContext<Command> ctx, TimerScheduler<Command> timers, String roomId, Settings settings,
      SnapshotBackup backup, WebhookSettings hooks, RecipientRef<WebhookOutbox.Command> outbox,
      ActorRef<ClusterSharding.ShardCommand> shard) {
    super(PersistenceId.of(RoomProtocol.ENTITY_TYPE_KEY.name(), roomId));
    this.ctx = ctx;
    this.roomId = roomId;
    this.settings = settings;
    this.metrics = Metrics.get(ctx.getSystem());
    RoomContext room = new RoomContext(ctx, timers, roomId, settings, metrics);
    this.connections = new Connections(roomId, metrics);
    this.encoded = new EncodedStateCache(timers);
    this.presence = new PresenceRelay(new Presence(settings.presenceLimits()), settings.presence().relayInterval(), timers, connections);
    this.notifications = new ChangeNotification(room, hooks, outbox);
    this.gate = new OutputGate(room, encoded, connections, notifications);
    this.passivation = new Passivation(room, shard, connections, notifications);
    this.backups = new BackupSchedule(room, backup, encoded, connections, gate, passivation::passivate);
    this.coldStart = new ColdStart(room, backup, connections, backups, gate);
    this.documents = new DocumentRequests(roomId, encoded);
  }

  private YDoc newDoc() {
    return new YDoc(new YDoc.Options(true, settings.maxPendingBytes()));
  }

  @Override
  public RoomState emptyState() {
    return new RoomState(roomId, newDoc());
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(settings.snapshotEvery(), 2).withDeleteEventsOnSnapshot();
  }

  @Override
  public boolean shouldSnapshot(RoomState state, RoomEvent event, long sequenceNr) {
    return event instanceof Compacted;
  }

  @Override
  public SnapshotAdapter<RoomState> snapshotAdapter() {
    return new SnapshotAdapter<>() {
      @Override
      public Object toJournal(RoomState state) {
        return state.snapshot(encoded.fullState(state));
      }

      @Override
      public RoomState fromJournal(Object from) {
        return RoomState.of(roomId, newDoc(), (RoomState.Snapshot) from);
      }
    };
  }

  @Override
  public EventHandler<RoomState, RoomEvent> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(RoomState::apply);
  }

  // ------------------------------------------------------------------ commands

  @Override
  public CommandHandler<Command, RoomEvent, RoomState> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(LoadDone.class, this::onLoadDone)
        .onCommand(RetryLoad.class, (state, c) -> {
          coldStart.start();
          return Effect().none();
        })
        .onCommand(Stop.class, this::onStop)
        .onCommand(Passivation.StopNow.class, (state, c) -> Effect().stop())
        .onCommand(c -> phase == Phase.LOADING, (state, c) -> Effect().stash()) // a cold room answers nobody before its backup is in
        .onCommand(Join.class, this::onJoin)
        .onCommand(Leave.class, this::onLeave)
        .onCommand(SessionStopped.class, this::onSessionStopped)
        .onCommand(ReadUpdate.class, (state, c) -> {
          documents.readUpdate(state, c);
          return Effect().none();
        })
        .onCommand(ReadJson.class, (state, c) -> {
          documents.readJson(state, c);
          return Effect().none();
        })
        .onCommand(ApplyUpdate.class, (state, c) -> effect(gate.apiUpdate(state, c)))
        .onCommand(FromClient.class, this::onFromClient)
        .onCommand(PeriodicSave.class, (state, c) -> effect(backups.save(state)))
        .onCommand(RetrySave.class, (state, c) -> effect(backups.save(state)))
        .onCommand(FinalSave.class, (state, c) -> effect(backups.onFinalSave(state)))
        .onCommand(SaveDone.class, (state, c) -> effect(backups.onSaveDone(state, c)))
        .onCommand(CatchUpLoaded.class, (state, c) -> effect(backups.onCatchUpLoaded(state, c)))
        .onCommand(ChangeNotification.Notify.class, (state, c) -> {
          notifications.handOff(state);
          return Effect().none();
        })
        .onCommand(NotificationAccepted.class, (state, c) -> {
          notifications.accepted(c.updates());
          passivation.passivateIfDone(state, phase, backups);
          return Effect().none();
        })
        .onCommand(NotificationDelivered.class, this::onNotificationDelivered)
        .onCommand(PresenceRelay.Relay.class, (state, c) -> {
          presence.relay();
          return Effect().none();
        })
        .onCommand(EncodedStateCache.Drop.class, (state, c) -> {
          encoded.drop();
          return Effect().none();
        })
        .build();
  }

  /** What a part decided, as Akka's effect: its events journaled, then what it does once they are. */
  private EffectBuilder<RoomEvent, RoomState> effect(Step step) {
    EffectBuilder<RoomEvent, RoomState> effect = step.events().isEmpty() ? Effect().none() : Effect().persist(step.events());
    return step.then() != null ? effect.thenRun(step.then()::accept) : effect;
  }

  // ------------------------------------------------------------------ lifecycle

  @Override
  public SignalHandler<RoomState> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(PreRestart.instance(), state -> {
          // the backstop (see create): this incarnation failed and the next one, at the same address, recovers from the
          // journal. Its sessions join that one and send again what this one did not acknowledge; nobody is closed.
          metrics.roomsActive.decrementAndGet();
          log.warn("room {}: restarting after a failure; its {} connections rejoin", roomId, connections.size());
          if (phase != Phase.STOPPING) passivation.rejoinAll(state); // else told to rejoin already
        })
        .onSignal(PostStop.instance(), state -> {
          metrics.roomsActive.decrementAndGet();
          // stopped with connections open and without telling them to rejoin (a failure)
          if (phase != Phase.STOPPING) passivation.closeAll();
        })
        .onSignal(RecoveryCompleted.instance(), state -> {
          metrics.roomsActive.incrementAndGet();
          if (!state.loaded()) {
            // a new room loads its backup before answering anyone; a room whose earlier load failed retries it
            if (state.updates() == 0) phase = Phase.LOADING;
            coldStart.start();
          } else {
            // restarted (crash, rebalance, remember-entities): make the save it owes, or passivate unless someone comes
            backups.scheduleFinal();
          }
          // a notification owed before the stop is still owed: the outbox takes it (or, delivered meanwhile, says so)
          if (notifications.owed(state)) notifications.handOff(state);
        })
        .build();
  }

  private Effect<RoomEvent, RoomState> onLoadDone(RoomState state, LoadDone done) {
    // the answer to an earlier incarnation's load (it restarted): this one loaded already
    if (state.loaded() || gate.holdsUnjournaled()) return Effect().none();
    boolean blocking = phase == Phase.LOADING;
    if (blocking) phase = Phase.SERVING; // loaded, or failed and retried while serving: stashed commands go on
    return effect(coldStart.onLoadDone(state, done, blocking)).thenUnstashAll();
  }

  private Effect<RoomEvent, RoomState> onStop(RoomState state, Stop stop) {
    if (connections.isEmpty()) return Effect().stop();
    if (phase == Phase.STOPPING) return Effect().none();
    phase = Phase.STOPPING;
    passivation.handOff(state);
    return Effect().none();
  }

  private Effect<RoomEvent, RoomState> onNotificationDelivered(RoomState state, NotificationDelivered d) {
    long upTo = notifications.delivered(state, d.updates());
    if (upTo < 0) {
      passivation.passivateIfDone(state, phase, backups);
      return Effect().none();
    }
    return Effect().persist(new WebhookDelivered(upTo)).thenRun(s -> passivation.passivateIfDone(s, phase, backups));
  }

  // ------------------------------------------------------------------ connections

  private Effect<RoomEvent, RoomState> onJoin(RoomState state, Join join) {
    if (phase == Phase.STOPPING) { // sharding holds Joins while a room stops; one that comes anyway goes to the next incarnation
      join.session().tell(new Rejoin(state.doc().stateVector()));
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
    backups.joined(connections.isEmpty());
    connections.add(join.connectionId(), new Connection(join.session(), join.readOnly()));
    // a session whose node dies, or whose Leave is lost, still leaves: the room watches it
    ctx.watchWith(join.session(), new SessionStopped(join.connectionId(), join.session()));
    join.session().tell(new Joined(ctx.getSelf()));
    join.session().tell(new Send(SyncProtocol.syncStep1(state.doc().stateVector())));
    byte[] states = presence.allStatesFrame();
    if (states != null) join.session().tell(new Send(states));
    return Effect().none();
  }

  private Effect<RoomEvent, RoomState> onSessionStopped(RoomState state, SessionStopped stopped) {
    Connection c = connections.get(stopped.connectionId());
    if (c == null || !c.session().equals(stopped.session())) return Effect().none();
    log.debug("room {}: connection {} stopped without leaving", roomId, stopped.connectionId());
    return onLeave(state, new Leave(stopped.connectionId()));
  }

  private Effect<RoomEvent, RoomState> onLeave(RoomState state, Leave leave) {
    Connection c = connections.remove(leave.connectionId());
    if (c != null) {
      ctx.unwatch(c.session());
      presence.left(leave.connectionId());
    }
    if (phase == Phase.STOPPING) return connections.isEmpty() ? Effect().stop() : Effect().none();
    if (c != null && connections.isEmpty()) {
      backups.lastLeft();
      if (settings.persistenceMode() == Settings.PersistenceMode.SNAPSHOT && state.updatesSinceCompaction() > 0) {
        return Effect().persist(new Compacted());
      }
    }
    return Effect().none();
  }

  /** The sync protocol: updates go through the gate; everything else is answered at once. */
  private Effect<RoomEvent, RoomState> onFromClient(RoomState state, FromClient msg) {
    Connection c = connections.get(msg.connectionId());
    if (c == null) return Effect().none(); // a message racing its connection's close
    try {
      SyncProtocol.ClientMessage m = msg.message();
      if (m instanceof SyncProtocol.SyncUpdate update) {
        return effect(gate.clientUpdate(state, msg.connectionId(), c, update.update(), msg.coalesced()));
      }
      if (m instanceof SyncProtocol.SyncStep1 step1) {
        c.session().tell(new Send(SyncProtocol.syncStep2(encoded.missing(state, step1.stateVector()))));
      } else if (m instanceof SyncProtocol.AwarenessUpdate aw) {
        presence.update(msg.connectionId(), aw);
      } else if (m instanceof SyncProtocol.SavedRequest saved) {
        // commands are handled in order and a journal write holds the next ones back until it is done, so
        // every update this connection sent before is journaled by now: answer with the client's own message
        c.session().tell(new Send(saved.frame()));
      } else if (m instanceof SyncProtocol.QueryAwareness) {
        byte[] all = presence.allStatesFrame();
        if (all != null) c.session().tell(new Send(all));
      }
      c.session().tell(Ack.INSTANCE);
      return Effect().none();
    } catch (ProtocolException e) {
      connections.close(msg.connectionId(), c, e.closeCode(), e.getMessage());
      return Effect().none();
    } catch (UpdateFormatException e) {
      connections.close(msg.connectionId(), c, CloseCodes.INVALID_PAYLOAD, e.getMessage());
      return Effect().none();
    } catch (RuntimeException e) {
      // a message the checks above let through and the room still could not handle: a bug, but this connection's
      // message. Only it is closed; a restart would have the session send the same message again, to every incarnation.
      log.error("room {}: connection {} sent a message the room failed on; closing it with 1011", roomId, msg.connectionId(), e);
      connections.close(msg.connectionId(), c, CloseCodes.INTERNAL_ERROR, "internal error handling the message");
      return Effect().none();
    }
  }
}
