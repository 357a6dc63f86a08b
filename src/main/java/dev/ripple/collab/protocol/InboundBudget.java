package dev.ripple.collab.protocol;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes a node holds of client messages still arriving (the parts of a large message, the
 * chunks of a y-pk-batch), across all its connections. Each connection is bounded by the message
 * limit (32 MiB); this bounds their sum, so that many connections sending large messages at once
 * cannot take the heap. A connection whose next part would pass it is closed with 1013 (try again
 * later): the parts already received cannot be taken back, and a provider that reconnects sends its
 * changes again with its sync.
 */
public final class InboundBudget {
  /** No bound (tests that build sessions alone). */
  public static final InboundBudget UNLIMITED = new InboundBudget(Long.MAX_VALUE);

  private final long max;
  private final AtomicLong used = new AtomicLong();

  public InboundBudget(long max) {
    this.max = max;
  }

  /** Takes {@code n} bytes if they fit; false (nothing taken) if they do not. */
  public boolean tryReserve(long n) {
    while (true) {
      long now = used.get();
      if (now + n > max) return false;
      if (used.compareAndSet(now, now + n)) return true;
    }
  }

  public void release(long n) {
    if (n > 0) used.addAndGet(-n);
  }

  public long used() {
    return used.get();
  }

  /** What a connection that would pass the budget is closed with. */
  public ProtocolException exhausted() {
    return new ProtocolException(CloseCodes.TRY_AGAIN_LATER, "server busy: " + max
        + " bytes of incoming messages are being received across connections; try again");
  }
}
