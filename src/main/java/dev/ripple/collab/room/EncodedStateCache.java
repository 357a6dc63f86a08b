package dev.ripple.collab.room;

import akka.actor.typed.javadsl.TimerScheduler;
import dev.ripple.collab.room.RoomProtocol.Command;
import dev.ripple.collab.yjs.StateVectors;
import java.time.Duration;

/**
 * The document's full state, encoded once for the newcomers, saves and snapshots of the next
 * {@link #TTL} (a reconnect storm encodes it once), until the document changes. Command-side only:
 * it remembers which {@link RoomState#version()} it encoded, and never writes the state.
 */
final class EncodedStateCache {
  /** How long an encoded full state is kept for the next newcomers. */
  static final Duration TTL = Duration.ofSeconds(5);

  /** Alarm: the encoding has been kept long enough; a quiet room does not hold its document twice. */
  record Drop() implements Command {}

  private final TimerScheduler<Command> timers;
  private byte[] encoded;
  private long version;

  EncodedStateCache(TimerScheduler<Command> timers) {
    this.timers = timers;
  }

  /** The full state as one update; when it is encoded anew, it is dropped {@link #TTL} later. */
  byte[] fullState(RoomState state) {
    if (encoded == null || version != state.version()) {
      encoded = state.doc().encodeStateAsUpdate();
      version = state.version();
      timers.startSingleTimer("drop-state-cache", new Drop(), TTL);
    }
    return encoded;
  }

  /** What {@code stateVector} lacks; a vector that is not wholly one is refused (UpdateFormatException). */
  byte[] missing(RoomState state, byte[] stateVector) {
    StateVectors.validate(stateVector);
    if (stateVector.length == 0 || (stateVector.length == 1 && stateVector[0] == 0)) return fullState(state);
    return state.doc().encodeStateAsUpdate(stateVector);
  }

  void drop() {
    encoded = null;
  }
}
