package dev.ripple.collab.room;

import akka.actor.typed.ActorRef;
import akka.actor.typed.RecipientRef;
import akka.actor.typed.javadsl.TimerScheduler;
import dev.ripple.collab.config.WebhookSettings;
import dev.ripple.collab.room.RoomProtocol.Command;
import java.time.Duration;

/**
 * When a room tells its webhook of its changes: after the debounce, but no later than max-delay after
 * the oldest change not yet told, however long edits continue. The room hands each notification to
 * its {@link WebhookOutbox}, which keeps it durably and delivers it ({@link Webhooks}); what the
 * receiver acknowledged the room journals, so a notification owed outlives the room.
 */
final class ChangeNotification {
  /** Alarm: hand the notification of the changes so far to the outbox (or hand it again: no answer came). */
  record Notify() implements Command {}

  /** Timing; null when webhooks are off (then nothing is ever owed). */
  private final WebhookSettings hooks;
  private final RecipientRef<WebhookOutbox.Command> outbox;
  private final ActorRef<Command> self;
  private final TimerScheduler<Command> timers;
  /** The count the outbox holds a notification for (or delivered): up to it, the room may stop. */
  private long acceptedUpdates;
  /** The count last handed to the outbox, awaiting its acceptance. */
  private long handedUpdates;
  /** When the oldest change not yet handed to the outbox was journaled (System.nanoTime), 0 when none. */
  private long owedSince;

  ChangeNotification(RoomContext room, WebhookSettings hooks, RecipientRef<WebhookOutbox.Command> outbox) {
    this.hooks = hooks;
    this.outbox = outbox;
    this.self = room.actor().getSelf();
    this.timers = room.timers();
  }

  /** Changes the webhook has not been told of (persisted, like the save owed). */
  boolean owed(RoomState state) {
    return hooks != null && state.updates() > state.notifiedUpdates();
  }

  /** Owed and not yet in the outbox's keeping: the room must not stop yet. */
  boolean awaitingOutbox(RoomState state) {
    return owed(state) && acceptedUpdates < state.updates();
  }

  /** An update is journaled: hand the notification over after the debounce, or sooner at max-delay. */
  void changed() {
    if (hooks == null) return;
    long now = System.nanoTime();
    if (owedSince == 0) owedSince = now;
    Duration left = hooks.maxDelay().minusNanos(now - owedSince);
    Duration delay = left.compareTo(hooks.debounce()) < 0 ? (left.isNegative() ? Duration.ZERO : left) : hooks.debounce();
    timers.startSingleTimer("notify", new Notify(), delay);
  }

  /**
   * Hands the notification owed to the outbox, which journals it, delivers it (retried, for as long as it
   * takes) and answers; a hand-off not answered within the request timeout (the outbox's node died) is made again.
   */
  void handOff(RoomState state) {
    if (!awaitingOutbox(state)) return;
    timers.cancel("notify");
    owedSince = 0;
    handedUpdates = state.updates();
    outbox.tell(new WebhookOutbox.Deliver(state.updates(), state.doc().stateVector(), self));
    timers.startSingleTimer("notify-handoff", new Notify(), hooks.requestTimeout());
  }

  /** The outbox holds (or delivered) the notification of the first {@code updates}. */
  void accepted(long updates) {
    acceptedUpdates = Math.max(acceptedUpdates, updates);
    if (acceptedUpdates >= handedUpdates) timers.cancel("notify-handoff");
  }

  /**
   * The receiver acknowledged the first {@code updates}: the count to journal as notified, or -1 when
   * the room knew it already. Capped at the room's own count: an outbox that delivered more (a journal
   * restored to an older point) must not silence the notifications of this room's next changes beyond it.
   */
  long delivered(RoomState state, long updates) {
    accepted(updates);
    long upTo = Math.min(updates, state.updates());
    return upTo <= state.notifiedUpdates() ? -1 : upTo;
  }
}
