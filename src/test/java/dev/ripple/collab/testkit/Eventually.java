package dev.ripple.collab.testkit;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Bounded waiting: a condition polled every 100 ms. */
public final class Eventually {
  private Eventually() {}

  /** Whether {@code condition} held within {@code max} (checked once more at the end). */
  public static boolean eventually(Duration max, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) return true;
      Thread.sleep(100);
    }
    return condition.getAsBoolean();
  }
}
