package dev.ripple.collab.auth;

import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Semaphore;

/**
 * The limits in front of {@link ConvexAuthenticator}: every upgrade with a token Convex has not
 * answered yet is one verify call billed to the app, so a flood of random tokens must not burn its
 * quota or starve real users. A cached allowed answer passes at once and is never limited (a
 * reconnect storm of real users costs nothing). Otherwise, in this order: a 401/403 verdict given
 * for the same (token, room) within {@code deniedCacheTtl} is given again; a client address past
 * its token bucket gets 429 {@code rate_limited}; past {@code maxConcurrent} calls in flight the
 * upgrade gets 503 {@code auth_unavailable}.
 */
public final class LimitedAuthenticator implements Authenticator {
  private final ConvexAuthenticator convex;
  private final AuthSettings.Limits limits;
  private final Clock clock;
  private final Semaphore inFlight;
  private final LinkedHashMap<String, Bucket> buckets;
  private final LinkedHashMap<String, Denial> denials;

  private record Denial(AuthResult.Denied denied, long expiresAtMillis) {}

  /** A token bucket: {@code tokens} left as of {@code atMillis}. */
  private static final class Bucket {
    double tokens;
    long atMillis;

    Bucket(double tokens, long atMillis) {
      this.tokens = tokens;
      this.atMillis = atMillis;
    }
  }

  public LimitedAuthenticator(ConvexAuthenticator convex, AuthSettings.Limits limits, Clock clock) {
    this.convex = convex;
    this.limits = limits;
    this.clock = clock;
    this.inFlight = new Semaphore(Math.max(1, limits.maxConcurrent()));
    this.buckets = lru(limits.maxAddresses());
    this.denials = lru(limits.maxAddresses());
  }

  private static <V> LinkedHashMap<String, V> lru(int max) {
    return new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
        return size() > max;
      }
    };
  }

  @Override
  public CompletionStage<AuthResult> verify(String token, String roomId) {
    return verify(token, roomId, "unknown");
  }

  @Override
  public CompletionStage<AuthResult> verify(String token, String roomId, String clientAddress) {
    if (token == null || token.isBlank()) return convex.verify(token, roomId); // denied without asking
    Optional<AuthResult.Allowed> cached = convex.cached(token, roomId);
    if (cached.isPresent()) return CompletableFuture.completedFuture(cached.get());
    long now = clock.millis();
    String denialKey = roomId + "\n" + token;
    synchronized (this) {
      Denial denial = denials.get(denialKey);
      if (denial != null && now < denial.expiresAtMillis()) return CompletableFuture.completedFuture(denial.denied());
      if (!take(clientAddress, now)) {
        return CompletableFuture.completedFuture(new AuthResult.Denied(429, "rate_limited",
            "too many connection attempts with new tokens from this address; try again in a few seconds"));
      }
    }
    if (!inFlight.tryAcquire()) {
      return CompletableFuture.completedFuture(new AuthResult.Unavailable(
          "too many token checks in flight (" + limits.maxConcurrent() + "); try again in a moment"));
    }
    return convex.verify(token, roomId).whenComplete((result, error) -> {
      inFlight.release();
      if (result instanceof AuthResult.Denied d && (d.status() == 401 || d.status() == 403)
          && !limits.deniedCacheTtl().isZero()) {
        synchronized (this) {
          denials.put(denialKey, new Denial(d, clock.millis() + limits.deniedCacheTtl().toMillis()));
        }
      }
    });
  }

  /** Takes one verify call from the address's bucket, if it has one. */
  private boolean take(String address, long now) {
    Bucket b = buckets.get(address);
    if (b == null) {
      b = new Bucket(limits.perAddressBurst(), now);
      buckets.put(address, b);
    }
    b.tokens = Math.min(limits.perAddressBurst(), b.tokens + (now - b.atMillis) / 1000.0 * limits.perAddressPerSecond());
    b.atMillis = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Whether the client address comes from X-Forwarded-For (a node behind a trusted balancer). */
  public boolean trustForwardedFor() {
    return limits.trustForwardedFor();
  }
}
