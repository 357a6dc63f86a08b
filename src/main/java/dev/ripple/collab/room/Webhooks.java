package dev.ripple.collab.room;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ripple.collab.config.WebhookSettings;
import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
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

  /** A refused delivery: the endpoint answered with a status other than 2xx. */
  public static final class DeliveryException extends RuntimeException {
    public DeliveryException(String message) {
      super(message);
    }
  }

  private final WebhookSettings settings;
  private final HttpClient http;

  public Webhooks(WebhookSettings settings, Executor executor) {
    this.settings = settings;
    this.http = HttpClient.newBuilder().executor(executor).connectTimeout(settings.requestTimeout()).build();
  }

  public WebhookSettings settings() {
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
    } catch (GeneralSecurityException e) {
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
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        throw new DeliveryException(cause instanceof TimeoutException || cause instanceof HttpTimeoutException
            ? "webhook endpoint gave no complete answer within " + millis + " ms"
            : cause instanceof ConnectException ? "cannot connect to the webhook endpoint " + settings.url()
            : "webhook delivery failed: " + cause);
      }
      if (r.statusCode() / 100 != 2) throw new DeliveryException("webhook endpoint answered HTTP " + r.statusCode());
      return null;
    });
  }
}
