package dev.ripple.collab.room;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.RecipientRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.Entity;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import akka.persistence.typed.PersistenceId;
import akka.persistence.typed.RecoveryCompleted;
import akka.persistence.typed.javadsl.CommandHandler;
import akka.persistence.typed.javadsl.Effect;
import akka.persistence.typed.javadsl.EventHandler;
import akka.persistence.typed.javadsl.EventSourcedBehavior;
import akka.persistence.typed.javadsl.RetentionCriteria;
import akka.persistence.typed.javadsl.SignalHandler;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The webhook notification a room owes, kept apart from the room so that the room may passivate
 * while it is owed: a receiver outage must not pin every changed room in memory. One sharded,
 * event-sourced entity per room, holding only the newest state to notify (one event covers every
 * change up to it). The room decides when to notify (debounce, max-delay) and hands the state over
 * with {@link Deliver}; the outbox journals it and answers {@link RoomProtocol.NotificationAccepted} (from
 * then on the room may stop), delivers it with retries and backoff for as long as it takes, journals
 * the receiver's 2xx and tells the room incarnation that handed it over, if that one still runs,
 * with {@link RoomProtocol.NotificationDelivered}; the room journals that acknowledgement. A room that is
 * not running learns it when it next starts: it hands over what it still owes and the outbox answers
 * from its journal, without a second delivery. Remember-entities restarts an outbox that stopped
 * owing (crash, node loss, shutdown, rebalance), so at least once holds while the room sleeps; an
 * outbox with nothing owed passivates after {@code ripple.webhook.outbox-idle}. Deliveries of one
 * room come from this one entity, one at a time, in increasing {@code updates}.
 */
public final class WebhookOutbox extends EventSourcedBehavior<WebhookOutbox.Command, WebhookOutbox.Event, WebhookOutbox.State> {
  public static final EntityTypeKey<Command> ENTITY_TYPE_KEY = EntityTypeKey.create(Command.class, "WebhookOutbox");
  private static final Logger log = LoggerFactory.getLogger(WebhookOutbox.class);

  /** What rooms (and the outbox itself) tell an outbox. */
  public sealed interface Command {}

  /**
   * From the room: it owes the notification of its first {@code updates} updates, the document then
   * having {@code stateVector}; {@code room} is the incarnation to answer.
   */
  public record Deliver(long updates, byte[] stateVector, ActorRef<RoomProtocol.Command> room) implements Command {}

  /** Deliver what is owed, if nothing is in flight: the retry alarm, and the next incarnation after a passivation that crossed a {@link Deliver}. */
  public record Resume() implements Command {
    public static final Resume INSTANCE = new Resume();
  }

  /** Sharding's stop message (passivation, hand-off). */
  public record Stop() implements Command {
    public static final Stop INSTANCE = new Stop();
  }

  private record AttemptDone(long updates, Throwable failure) implements Command {}

  private record RoomStopped(ActorRef<RoomProtocol.Command> room) implements Command {}

  /** Alarm: nothing has been owed for a while. */
  private record Idle() implements Command {}

  /** Journaled facts. */
  public sealed interface Event {}

  /** The room handed over the notification of its first {@code updates} updates. */
  public record Owed(long updates, byte[] stateVector) implements Event {}

  /** The receiver acknowledged (2xx) the notification of the first {@code updates} updates. */
  public record Delivered(long updates) implements Event {}

  /** The newest notification owed (its count and state vector) and the newest acknowledged; also the snapshot. */
  public record State(long owedUpdates, byte[] stateVector, long deliveredUpdates) {
    boolean owes() {
      return owedUpdates > deliveredUpdates;
    }
  }

  /** Sharding of outboxes, as rooms' (remember-entities on: an outbox owing a notification is restarted). */
  public static void init(ActorSystem<?> system, Webhooks webhooks) {
    ClusterSharding sharding = ClusterSharding.get(system);
    sharding.init(Entity.of(ENTITY_TYPE_KEY, ctx -> create(ctx.getEntityId(), webhooks, ctx.getShard(),
            sharding.entityRefFor(ENTITY_TYPE_KEY, ctx.getEntityId())))
        .withStopMessage(Stop.INSTANCE));
  }

  /**
   * @param shard where to ask for passivation
   * @param self this outbox through sharding: a message sent there during a passivation starts the next incarnation
   */
  public static Behavior<Command> create(String roomId, Webhooks webhooks, ActorRef<ClusterSharding.ShardCommand> shard,
      RecipientRef<Command> self) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new WebhookOutbox(ctx, timers, roomId, webhooks, shard, self)));
  }

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final String roomId;
  private final Webhooks webhooks;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final RecipientRef<Command> self;
  // not persisted: what is in flight right now
  /** The room incarnation that handed the newest notification over, while it runs; null when none does. */
  private ActorRef<RoomProtocol.Command> room;
  private boolean attempting;
  private int failures;
  /** This outbox asked its shard to passivate it; a notification handed over meanwhile must not be left behind. */
  private boolean passivating;

  private WebhookOutbox(ActorContext<Command> ctx, TimerScheduler<Command> timers, String roomId, Webhooks webhooks,
      ActorRef<ClusterSharding.ShardCommand> shard, RecipientRef<Command> self) {
    super(PersistenceId.of(ENTITY_TYPE_KEY.name(), roomId));
    this.ctx = ctx;
    this.timers = timers;
    this.roomId = roomId;
    this.webhooks = webhooks;
    this.shard = shard;
    this.self = self;
  }

  @Override
  public State emptyState() {
    return new State(0, new byte[0], 0);
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    // two events per notification; the state is a few bytes: keep one snapshot, drop the events before it
    return RetentionCriteria.snapshotEvery(100, 1).withDeleteEventsOnSnapshot();
  }

  @Override
  public CommandHandler<Command, Event, State> commandHandler() {
    return newCommandHandlerBuilder()
        .forAnyState()
        .onCommand(Deliver.class, this::onDeliver)
        .onCommand(Resume.class, (state, c) -> {
          attempt(state);
          return Effect().none();
        })
        .onCommand(AttemptDone.class, this::onAttemptDone)
        .onCommand(RoomStopped.class, (state, c) -> {
          if (c.room().equals(room)) room = null;
          return Effect().none();
        })
        .onCommand(Idle.class, (state, c) -> {
          if (!state.owes() && !attempting) {
            passivating = true;
            if (shard != null) shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf())); // null only in tests without sharding
          }
          return Effect().none();
        })
        .onCommand(Stop.class, (state, c) -> {
          // a Deliver handled between our Passivate and this Stop: the shard holds messages for us now and starts the
          // next incarnation for this one, which delivers (a hand-off or shutdown is restarted by remember-entities)
          if (passivating && state.owes()) self.tell(Resume.INSTANCE);
          return Effect().stop();
        })
        .build();
  }

  @Override
  public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), state -> {
          if (state.owes()) attempt(state); // restarted (remember-entities, or a Resume): deliver what is owed
          else idleLater();
        })
        .build();
  }

  private Effect<Event, State> onDeliver(State state, Deliver d) {
    follow(d.room());
    if (d.updates() <= state.deliveredUpdates()) { // delivered already (the room slept meanwhile): nothing to send again
      d.room().tell(new RoomProtocol.NotificationDelivered(state.deliveredUpdates()));
      return Effect().none();
    }
    if (d.updates() <= state.owedUpdates()) { // already held (a hand-off repeated)
      d.room().tell(new RoomProtocol.NotificationAccepted(state.owedUpdates()));
      return Effect().none();
    }
    return Effect().persist(new Owed(d.updates(), d.stateVector())).thenRun(s -> {
      d.room().tell(new RoomProtocol.NotificationAccepted(s.owedUpdates()));
      timers.cancel("idle");
      // a delivery in flight, or a retry waiting out its backoff, sends the newest state when its turn comes
      if (!timers.isTimerActive("retry")) attempt(s);
    });
  }

  /** Answers go to the incarnation that last handed a notification over, while it runs. */
  private void follow(ActorRef<RoomProtocol.Command> r) {
    if (r.equals(room)) return;
    if (room != null) ctx.unwatch(room);
    room = r;
    ctx.watchWith(r, new RoomStopped(r));
  }

  private void attempt(State state) {
    if (attempting || !state.owes()) return;
    attempting = true;
    long covered = state.owedUpdates();
    ctx.pipeToSelf(webhooks.deliver(roomId, covered, state.stateVector()), (ok, failure) -> new AttemptDone(covered, failure));
  }

  private Effect<Event, State> onAttemptDone(State state, AttemptDone done) {
    attempting = false;
    if (done.failure() != null) {
      failures++;
      Duration retry = Backoff.after(failures, webhooks.settings().retryInitial(), webhooks.settings().retryMax());
      log.warn("room {}: webhook delivery failed ({}); attempt {} in {} ms (kept in the room's outbox; the room need not run)",
          roomId, describe(done.failure()), failures + 1, retry.toMillis());
      timers.startSingleTimer("retry", Resume.INSTANCE, retry);
      return Effect().none();
    }
    failures = 0;
    return Effect().persist(new Delivered(done.updates())).thenRun(s -> {
      if (room != null) room.tell(new RoomProtocol.NotificationDelivered(done.updates()));
      if (s.owes()) attempt(s); // a newer state was handed over during the delivery
      else idleLater();
    });
  }

  private void idleLater() {
    timers.startSingleTimer("idle", new Idle(), webhooks.settings().outboxIdle());
  }

  private static String describe(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    return c.getMessage() != null ? c.getMessage() : c.toString();
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder()
        .forAnyState()
        .onEvent(Owed.class, (state, e) -> e.updates() > state.owedUpdates()
            ? new State(e.updates(), e.stateVector(), state.deliveredUpdates()) : state)
        .onEvent(Delivered.class, (state, e) ->
            new State(state.owedUpdates(), state.stateVector(), Math.max(state.deliveredUpdates(), e.updates())))
        .build();
  }
}
