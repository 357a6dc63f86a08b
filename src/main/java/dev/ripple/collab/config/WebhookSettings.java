package dev.ripple.collab.config;

import com.typesafe.config.Config;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/**
 * {@code ripple.webhook}, change notifications: where, and how: debounce after a change, at most
 * max-delay while changes continue, retries with backoff, and how long a room's webhook outbox stays
 * up with nothing owed.
 */
public record WebhookSettings(URI url, byte[] secret, Duration debounce, Duration maxDelay, Duration requestTimeout,
    Duration retryInitial, Duration retryMax, Duration outboxIdle) {
  /** Empty when no URL is configured: webhooks are off. */
  public static Optional<WebhookSettings> from(Config ripple) {
    String url = ripple.hasPath("webhook.url") ? ripple.getString("webhook.url").strip() : "";
    if (url.isEmpty()) return Optional.empty();
    String secret = ripple.hasPath("webhook.secret") ? ripple.getString("webhook.secret").strip() : "";
    // a key of its own: every receiver holds it, and none should hold the Convex credential
    if (secret.isEmpty()) {
      throw new IllegalStateException("COLLAB_WEBHOOK_URL (ripple.webhook.url) is set but COLLAB_WEBHOOK_SECRET"
          + " (ripple.webhook.secret) is not: webhook events must be signed with a key of their own (PARTYKIT_SECRET is"
          + " not used for it); set COLLAB_WEBHOOK_SECRET, e.g. to the output of `openssl rand -hex 32`");
    }
    String convexSecret = ripple.hasPath("convex.secret") ? ripple.getString("convex.secret").strip() : "";
    if (secret.equals(convexSecret)) {
      throw new IllegalStateException("COLLAB_WEBHOOK_SECRET equals PARTYKIT_SECRET: every webhook receiver would hold the"
          + " Convex credential; give the webhooks a key of their own");
    }
    URI uri = URI.create(url);
    if (!"http".equalsIgnoreCase(uri.getScheme()) && !"https".equalsIgnoreCase(uri.getScheme())) {
      throw new IllegalStateException("COLLAB_WEBHOOK_URL must be an http(s) URL, not " + url);
    }
    return Optional.of(new WebhookSettings(uri, secret.getBytes(StandardCharsets.UTF_8), ripple.getDuration("webhook.debounce"),
        ripple.getDuration("webhook.max-delay"), ripple.getDuration("webhook.request-timeout"),
        ripple.getDuration("webhook.retry-initial"), ripple.getDuration("webhook.retry-max"),
        ripple.getDuration("webhook.outbox-idle")));
  }
}
