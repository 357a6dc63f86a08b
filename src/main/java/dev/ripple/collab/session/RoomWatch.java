package dev.ripple.collab.session;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.Terminated;
import akka.actor.typed.javadsl.Behaviors;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.room.Room;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One per session: watches the room incarnation the session joined (on this node or another).
 * If the room stops while the session is open, the session is closed with 1012 and the client
 * reconnects; its sync step 1 then brings the room at its new home whatever it lacks.
 */
final class RoomWatch {
  private static final Logger log = LoggerFactory.getLogger(RoomWatch.class);

  sealed interface Command {}

  record Watch(ActorRef<Room.Command> room) implements Command {}

  record Stop() implements Command {}

  private RoomWatch() {}

  static Behavior<Command> create(ActorRef<Room.Outbound> session, String roomId, String connectionId) {
    return Behaviors.setup(ctx -> Behaviors.receive(Command.class)
        .onMessage(Watch.class, w -> {
          ctx.watch(w.room());
          return Behaviors.same();
        })
        .onMessage(Stop.class, s -> Behaviors.stopped())
        .onSignal(Terminated.class, t -> {
          log.info("room {}: stopped while connection {} was open; closing it with 1012", roomId, connectionId);
          session.tell(new Room.Close(CloseCodes.SERVICE_RESTART, "room moved"));
          return Behaviors.stopped();
        })
        .build());
  }
}
