package dev.ripple.collab.room;

import java.time.Duration;

/** The one retry backoff of rooms and their webhook outboxes: {@code initial}, doubling per failure, at most {@code max}. */
final class Backoff {
  private Backoff() {}

  /** The wait after the {@code failures}-th failure in a row (1 for the first). */
  static Duration after(int failures, Duration initial, Duration max) {
    long millis = initial.toMillis() << Math.min(Math.max(failures, 1) - 1, 20);
    return millis < 0 || millis > max.toMillis() ? max : Duration.ofMillis(millis);
  }
}
