package dev.ripple.collab.room;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.room.RoomProtocol.Close;
import dev.ripple.collab.room.RoomProtocol.Command;
import dev.ripple.collab.room.RoomProtocol.Rejoin;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When a room stops and what its connections do then. An idle room (nobody connected, no save or
 * notification owed or in flight) asks its shard to passivate it. A room that sharding stops with
 * connections open (a Join that crossed its passivation, a rebalance, a hand-off) tells each session to
 * {@link Rejoin} and stops once all have left, or after the rejoin timeout: the connections move to
 * the next incarnation without closing. A room that fails closes nobody either; one that stops without
 * having told them (a journal failure) closes them with 1012 so that they reconnect.
 */
final class Passivation {
  private static final Logger log = LoggerFactory.getLogger(Passivation.class);

  /** Alarm: the sessions told to rejoin took too long to leave; stop anyway (they still rejoin). */
  record StopNow() implements Command {}

  private final String roomId;
  private final ActorRef<Command> self;
  /** Where to ask for passivation; null outside sharding (tests), where the room just stays. */
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final TimerScheduler<Command> timers;
  private final Duration rejoinTimeout;
  private final Connections connections;
  private final ChangeNotification notifications;

  Passivation(RoomContext room, ActorRef<ClusterSharding.ShardCommand> shard, Connections connections,
      ChangeNotification notifications) {
    this.roomId = room.roomId();
    this.self = room.actor().getSelf();
    this.shard = shard;
    this.timers = room.timers();
    this.rejoinTimeout = room.settings().sessions().rejoinTimeout();
    this.connections = connections;
    this.notifications = notifications;
  }

  /** The room is done: its notification owed goes to the outbox first (whose acceptance passivates it), then it passivates. */
  void passivate(RoomState state) {
    if (notifications.awaitingOutbox(state)) {
      // no need to wait out the debounce: nobody is editing
      notifications.handOff(state);
      return;
    }
    log.debug("room {}: passivating", roomId);
    if (shard != null) shard.tell(new ClusterSharding.Passivate<>(self));
  }

  /** A room that only waited for something in flight (a save, its notification's acceptance) passivates once it is done. */
  void passivateIfDone(RoomState state, Phase phase, BackupSchedule backups) {
    if (connections.isEmpty() && phase != Phase.STOPPING && !state.dirty() && backups.idle()) passivate(state);
  }

  /** Sharding stops a room that has connections: each session rejoins; the room stops when they have left, or at the timeout. */
  void handOff(RoomState state) {
    log.debug("room {}: stopping with {} connections; they rejoin", roomId, connections.size());
    rejoinAll(state);
    timers.startSingleTimer("stop", new StopNow(), rejoinTimeout);
  }

  /** Tells every session to join the next incarnation, asking it for what is newer than this one's document. */
  void rejoinAll(RoomState state) {
    connections.tellAll(new Rejoin(state.doc().stateVector()));
  }

  /** The room stopped without telling its sessions to rejoin: close them now, not when the node is gone; the reconnect resyncs. */
  void closeAll() {
    connections.tellAll(new Close(CloseCodes.SERVICE_RESTART, "room moved"));
  }
}
