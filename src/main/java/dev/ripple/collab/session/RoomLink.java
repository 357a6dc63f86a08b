package dev.ripple.collab.session;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.RecipientRef;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import dev.ripple.collab.Settings;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.Room;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One per session: the session's link to the room incarnation it joined, on this node or another.
 *
 * <p>The Join goes through cluster sharding, and is sent again every {@code join-retry} until the
 * room answers: in the seconds after a node dies, sharding still routes a room that lived there to
 * the dead node, and a message sent there is lost (the room comes up elsewhere only once the dead
 * node has been downed and removed). The client's messages wait here until the room has answered,
 * then go straight to that incarnation, in order. If it stops while the session is open, the
 * session is closed with 1012 and the client reconnects; its sync step 1 then brings the room at
 * its new home whatever it lacks. A room that does not answer within {@code join-timeout}, or a
 * client that sends more than the outbound queue's worth of messages before it has, gets 1013.
 */
final class RoomLink {
  private static final Logger log = LoggerFactory.getLogger(RoomLink.class);

  sealed interface Command {}

  /** A decoded message from the client. */
  record Inbound(SyncProtocol.ClientMessage message) implements Command {}

  /** The room incarnation that took the Join (it answered with {@link Room.Joined}). */
  record Joined(ActorRef<Room.Command> room) implements Command {}

  /** The connection has ended. */
  record Ended() implements Command {}

  private record RetryJoin() implements Command {}

  private record GiveUp() implements Command {}

  private RoomLink() {}

  static Behavior<Command> create(RecipientRef<Room.Command> sharded, Room.Join join, String roomId, Settings.Sessions settings) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      sharded.tell(join);
      timers.startTimerWithFixedDelay("retry", new RetryJoin(), settings.joinRetry());
      timers.startSingleTimer("give-up", new GiveUp(), settings.joinTimeout());
      return new RoomLink.Joining(ctx, timers, sharded, join, roomId, settings).behavior();
    }));
  }

  /** Before the room has answered: the Join is repeated and the client's messages are held. */
  private record Joining(ActorContext<Command> ctx, TimerScheduler<Command> timers, RecipientRef<Room.Command> sharded,
      Room.Join join, String roomId, Settings.Sessions settings, ArrayDeque<SyncProtocol.ClientMessage> held) {
    Joining(ActorContext<Command> ctx, TimerScheduler<Command> timers, RecipientRef<Room.Command> sharded, Room.Join join,
        String roomId, Settings.Sessions settings) {
      this(ctx, timers, sharded, join, roomId, settings, new ArrayDeque<>());
    }

    Behavior<Command> behavior() {
      return Behaviors.receive(Command.class)
          .onMessage(Inbound.class, in -> {
            if (held.size() >= settings.maxHeldMessages()) {
              log.info("room {}: connection {} sent {} messages before the room answered; closing it", roomId, join.connectionId(), held.size());
              join.session().tell(new Room.Close(CloseCodes.TRY_AGAIN_LATER, "room not reachable yet"));
              return closing(sharded);
            }
            held.add(in.message());
            return Behaviors.same();
          })
          .onMessage(RetryJoin.class, r -> {
            sharded.tell(join);
            return Behaviors.same();
          })
          .onMessage(GiveUp.class, g -> {
            log.warn("room {}: no answer to connection {} within {}; closing it", roomId, join.connectionId(), settings.joinTimeout());
            join.session().tell(new Room.Close(CloseCodes.TRY_AGAIN_LATER, "room not reachable"));
            return closing(sharded);
          })
          .onMessage(Joined.class, j -> {
            timers.cancelAll();
            ctx.watch(j.room());
            for (SyncProtocol.ClientMessage m : held) j.room().tell(new Room.FromClient(join.connectionId(), m));
            held.clear();
            return joined(ctx, j.room(), join, roomId);
          })
          .onMessage(Ended.class, e -> {
            sharded.tell(new Room.Leave(join.connectionId())); // in case a Join reached the room after all
            return Behaviors.stopped();
          })
          .build();
    }

    /** Closed by us, waiting for the connection to end. */
    private Behavior<Command> closing(RecipientRef<Room.Command> via) {
      timers.cancelAll();
      return Behaviors.receive(Command.class)
          .onMessage(Ended.class, e -> {
            via.tell(new Room.Leave(join.connectionId()));
            return Behaviors.stopped();
          })
          .onMessage(Joined.class, j -> {
            j.room().tell(new Room.Leave(join.connectionId()));
            return Behaviors.same();
          })
          .onAnyMessage(m -> Behaviors.same())
          .build();
    }
  }

  /** Joined to one incarnation: the client's messages go straight to it. */
  private static Behavior<Command> joined(ActorContext<Command> ctx, ActorRef<Room.Command> room, Room.Join join, String roomId) {
    String connectionId = join.connectionId();
    return Behaviors.receive(Command.class)
        .onMessage(Inbound.class, in -> {
          room.tell(new Room.FromClient(connectionId, in.message()));
          return Behaviors.same();
        })
        .onMessage(Joined.class, j -> {
          // a repeated Join that a second incarnation took (the first one answered too): leave it
          if (!j.room().equals(room)) j.room().tell(new Room.Leave(connectionId));
          return Behaviors.same();
        })
        .onMessage(Ended.class, e -> {
          room.tell(new Room.Leave(connectionId));
          return Behaviors.stopped();
        })
        .onMessage(RetryJoin.class, r -> Behaviors.same())
        .onMessage(GiveUp.class, g -> Behaviors.same())
        .onSignal(Terminated.class, t -> {
          log.info("room {}: stopped while connection {} was open; closing it with 1012", roomId, connectionId);
          join.session().tell(new Room.Close(CloseCodes.SERVICE_RESTART, "room moved"));
          return Behaviors.receive(Command.class)
              .onMessage(Ended.class, e -> Behaviors.stopped())
              .onAnyMessage(m -> Behaviors.same())
              .build();
        })
        .build();
  }
}
