package dev.ripple.collab.room;

import akka.actor.typed.javadsl.TimerScheduler;
import dev.ripple.collab.protocol.Presence;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.RoomProtocol.Command;
import java.time.Duration;

/**
 * Awareness (cursors, names): held per connection, never persisted, and relayed once per relay
 * interval as one frame to every connection, the sender included (a lone YPartyKitProvider needs the
 * echo to stay connected): N clients moving their cursors cost N frames per interval instead of N x N.
 */
final class PresenceRelay {
  /** Alarm: relay the awareness changes gathered since the last relay, as one frame. */
  record Relay() implements Command {}

  private final Presence presence;
  private final Duration interval;
  private final TimerScheduler<Command> timers;
  private final Connections connections;

  PresenceRelay(Presence presence, Duration interval, TimerScheduler<Command> timers, Connections connections) {
    this.presence = presence;
    this.interval = interval;
    this.timers = timers;
    this.connections = connections;
  }

  /** A connection's awareness update: validated by its session; one from another node's session carries only its bytes. */
  void update(String connectionId, SyncProtocol.AwarenessUpdate update) {
    presence.apply(connectionId, update.entries() != null ? update.entries() : Presence.decode(update.update(), presence.limits()));
    schedule();
  }

  /** A connection left: its states are removed, and the removal relayed. */
  void left(String connectionId) {
    presence.removeConnection(connectionId);
    schedule();
  }

  /** Every state as one awareness frame, for a newcomer or a query; null when there is none. */
  byte[] allStatesFrame() {
    byte[] states = presence.encodeAll();
    return states == null ? null : SyncProtocol.awareness(states);
  }

  void relay() {
    byte[] changes = presence.flush();
    if (changes != null) connections.broadcast(SyncProtocol.awareness(changes), null);
  }

  private void schedule() {
    if (interval.isZero()) relay();
    else if (!timers.isTimerActive("presence")) timers.startSingleTimer("presence", new Relay(), interval);
  }
}
