package dev.ripple.collab.room;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The one retry backoff: the loads' 2 s doubling to load-retry-max, the saves' and the webhook's. */
class BackoffTest {
  @Test
  void doublesFromTheInitialWaitAndStopsAtTheMaximum() {
    Duration initial = Duration.ofSeconds(2);
    Duration max = Duration.ofSeconds(60);
    assertEquals(Duration.ofSeconds(2), Backoff.after(1, initial, max));
    assertEquals(Duration.ofSeconds(4), Backoff.after(2, initial, max));
    assertEquals(Duration.ofSeconds(32), Backoff.after(5, initial, max));
    assertEquals(max, Backoff.after(6, initial, max));
    assertEquals(max, Backoff.after(Integer.MAX_VALUE, initial, max), "no overflow however many failures");
    assertEquals(Duration.ofMillis(250), Backoff.after(0, Duration.ofMillis(250), max), "the first wait at the least");
  }
}
