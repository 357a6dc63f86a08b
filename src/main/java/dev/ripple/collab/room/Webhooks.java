package dev.ripple.collab.room;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Change notifications: after a room changes, a signed JSON event is POSTed to the app's endpoint
 * ({@code COLLAB_WEBHOOK_URL}). The room decides when (debounced), its {@link WebhookOutbox} keeps
 * what is owed and retries; this class builds, signs and sends one event. The body is
 * {@code {"event":"document.updated","id":"<room>:<updates>","roomId":..,"updates":N,"stateVector":"<base64>","timestamp":".."}}
 * and {@code X-Ripple-Signature-256: sha256=<hex HMAC-SHA256 of the body>} signs it with
 * {@code COLLAB_WEBHOOK_SECRET} (required with the URL, and never the Convex secret). The {@code id} names the
 * room's state (its count of journaled updates), so a retried delivery carries the same id and the
 * receiver can drop duplicates.
 */
public final class Webhooks {
  public static final String SIGNATURE_HEADER = "X-Ripple-Signature-256";
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Where and how: debounce after a change, at most max-delay while changes continue, retries with
   * backoff, and how long a room's {@link WebhookOutbox} stays up with nothing owed.
   */
  public record Settings(URI url, byte[] secret, Duration debounce, Duration maxDelay, Duration requestTimeout,
      Duration retryInitial, Duration retryMax, Duration outboxIdle) {
    /** Empty when no URL is configured: webhooks are off. */
    public static Optional<Settings> from(Config ripple) {
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
      return Optional.of(new Settings(uri, secret.getBytes(StandardCharsets.UTF_8), ripple.getDuration("webhook.debounce"),
          ripple.getDuration("webhook.max-delay"), ripple.getDuration("webhook.request-timeout"),
          ripple.getDuration("webhook.retry-initial"), ripple.getDuration("webhook.retry-max"),
          ripple.getDuration("webhook.outbox-idle")));
    }
  }

  /** A refused delivery: the endpoint answered with a status other than 2xx. */
  public static final class DeliveryException extends RuntimeException {
    public DeliveryException(String message) {
      super(message);
    }
  }

  private final Settings settings;
  private final HttpClient http;

  public Webhooks(Settings settings, Executor executor) {
    this.settings = settings;
    this.http = HttpClient.newBuilder().executor(executor).connectTimeout(settings.requestTimeout()).build();
  }

  public Settings settings() {
    return settings;
  }

  /** The event for a room at {@code updates} journaled updates. */
  static byte[] body(String roomId, long updates, byte[] stateVector, Instant at) {
    ObjectNode n = JSON.createObjectNode()
        .put("event", "document.updated")
        .put("id", roomId + ":" + updates)
        .put("roomId", roomId)
        .put("updates", updates)
        .put("stateVector", Base64.getEncoder().encodeToString(stateVector))
        .put("timestamp", at.toString());
    return n.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** {@code sha256=<hex HMAC-SHA256 of body>}. */
  public static String signature(byte[] secret, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
    }
  }

  /**
   * Sends one event; completes normally on 2xx, exceptionally otherwise (status, timeout, refused
   * connection). The request timeout bounds the whole exchange, the answer's body included.
   */
  CompletionStage<Void> deliver(String roomId, long updates, byte[] stateVector) {
    byte[] body = body(roomId, updates, stateVector, Instant.now());
    HttpRequest request = HttpRequest.newBuilder(settings.url())
        .timeout(settings.requestTimeout())
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, signature(settings.secret(), body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
        .build();
    CompletableFuture<HttpResponse<Void>> sent = http.sendAsync(request, HttpResponse.BodyHandlers.discarding());
    // the request's own timeout ends at the response headers: a receiver that sends them and stalls its body
    // would hold the delivery forever. This bounds the whole exchange; the stalled one is cancelled.
    long millis = settings.requestTimeout().toMillis();
    CompletableFuture<HttpResponse<Void>> bounded = sent.copy().orTimeout(millis, TimeUnit.MILLISECONDS);
    return bounded.handle((r, error) -> {
      if (error != null) {
        sent.cancel(true);
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null ? error.getCause() : error;
        throw new DeliveryException(cause instanceof TimeoutException || cause instanceof java.net.http.HttpTimeoutException
            ? "webhook endpoint gave no complete answer within " + millis + " ms"
            : cause instanceof java.net.ConnectException ? "cannot connect to the webhook endpoint " + settings.url()
            : "webhook delivery failed: " + cause);
      }
      if (r.statusCode() / 100 != 2) throw new DeliveryException("webhook endpoint answered HTTP " + r.statusCode());
      return null;
    });
  }
}
