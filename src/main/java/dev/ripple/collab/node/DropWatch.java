package dev.ripple.collab.node;

import akka.actor.DeadLetter;
import akka.actor.Dropped;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.Props;
import akka.actor.typed.eventstream.EventStream;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.sharding.typed.ShardingEnvelope;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.room.RoomProtocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes every dropped room or session message visible: Akka publishes a message it could not deliver
 * (dead letters: its recipient had stopped) or dropped (a full queue, e.g. Artery's send queue to
 * another node) on the event stream, where by default it is an INFO line among many, or nothing.
 *
 * <p>A client's message that is dropped is a lost edit unless the client resyncs, so it is a WARN,
 * with the room's counter {@code ripple_messages_dropped_total}. A frame for a session whose socket has
 * just closed is expected (its client is gone and will resync when it comes back): counted, DEBUG.
 */
public final class DropWatch {
  private static final Logger log = LoggerFactory.getLogger(DropWatch.class);

  private DropWatch() {}

  public static void start(ActorSystem<?> system) {
    system.systemActorOf(behavior(Metrics.get(system)), "ripple-drop-watch", Props.empty());
  }

  private static Behavior<Object> behavior(Metrics metrics) {
    return Behaviors.setup(ctx -> {
      ctx.getSystem().eventStream().tell(new EventStream.Subscribe<>(DeadLetter.class, ctx.getSelf().narrow()));
      ctx.getSystem().eventStream().tell(new EventStream.Subscribe<>(Dropped.class, ctx.getSelf().narrow()));
      return Behaviors.receiveMessage(event -> {
        Object message;
        String why;
        String recipient;
        if (event instanceof DeadLetter d) {
          message = d.message();
          why = "recipient stopped";
          recipient = d.recipient().path().toString();
        } else if (event instanceof Dropped d) {
          message = d.message();
          why = d.reason();
          recipient = d.recipient().path().toString();
        } else {
          return Behaviors.same();
        }
        message = unwrap(message);
        if (message instanceof RoomProtocol.FromClient f) {
          metrics.messagesDropped.increment();
          metrics.clientMessagesDropped.increment();
          log.warn("dropped a client message for a room (connection {}, {}): {} to {}", f.connectionId(),
              f.message().getClass().getSimpleName(), why, recipient);
        } else if (message instanceof RoomProtocol.Command || message instanceof RoomProtocol.Outbound) {
          metrics.messagesDropped.increment();
          if (event instanceof Dropped) log.warn("dropped {}: {} to {}", message.getClass().getSimpleName(), why, recipient);
          else log.debug("dropped {}: {} to {}", message.getClass().getSimpleName(), why, recipient);
        }
        return Behaviors.same();
      });
    });
  }

  /** Sharding envelopes carry the room's command. */
  private static Object unwrap(Object message) {
    if (message instanceof ShardingEnvelope<?> e) return e.message();
    return message;
  }
}
