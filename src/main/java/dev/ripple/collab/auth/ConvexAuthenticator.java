package dev.ripple.collab.auth;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ripple.collab.config.ConvexSettings;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks Convex: {@code POST {site}/collaboration/verify} with {@code Authorization: Bearer <secret>}
 * and {@code {"token":…,"roomId":…}}. 200 {@code {"userId":…,"access":"write"|"read"}} allows;
 * 401 and 403 deny with that status. Everything else is {@link AuthResult.Unavailable} (503): a
 * timeout, a refused connection, 5xx, any other status, and a 200 outside the contract (no userId,
 * or an access other than exactly "write" or "read"): that is a deployment mismatch to fix, not a
 * verdict on the user, so it neither grants nor denies and is logged as an error. A missing token
 * is denied 401 ({@code missing_token}) without asking.
 *
 * <p>Allowed answers are cached per (token, room) for the cache TTL, so reconnects with the same URL
 * do not ask again; a revoked token therefore keeps working for up to the TTL. Denials and failures
 * are never cached. The cache holds at most {@code cacheMaxEntries}, dropping the oldest first.
 */
public final class ConvexAuthenticator implements Authenticator {
  private static final Logger log = LoggerFactory.getLogger(ConvexAuthenticator.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PATH = "/collaboration/verify";
  private static final int MESSAGE_CHARS = 200;

  private final URI verifyUri;
  private final String authorization;
  private final Duration requestTimeout;
  private final Clock clock;
  private final HttpClient http;
  private final AllowedCache cache;

  /**
   * @param siteUrl the deployment's HTTP actions URL, e.g. {@code https://happy-otter-123.convex.site}
   * @param requestTimeout how long one verify may take before the verifier counts as unavailable
   * @param cacheTtl how long an allowed answer is reused; zero disables the cache
   * @param clock the cache's time source (tests move it)
   */
  public ConvexAuthenticator(URI siteUrl, String secret, Duration requestTimeout, Duration cacheTtl,
      int cacheMaxEntries, Clock clock, HttpClient http) {
    this.verifyUri = URI.create(ConvexSettings.siteUrl(siteUrl.toString()) + PATH);
    this.authorization = "Bearer " + secret;
    this.requestTimeout = requestTimeout;
    this.clock = clock;
    this.http = http;
    this.cache = new AllowedCache(cacheTtl.toMillis(), cacheMaxEntries);
  }

  /** The client the factory uses. It never follows redirects: a 3xx means a wrong URL, reported, not chased with the secret. */
  public static HttpClient defaultClient(Duration connectTimeout) {
    return HttpClient.newBuilder().connectTimeout(connectTimeout).followRedirects(HttpClient.Redirect.NEVER).build();
  }

  /** The allowed answer cached for (token, room), if any: a reconnect that costs Convex nothing. */
  Optional<AuthResult.Allowed> cached(String token, String roomId) {
    return token == null || token.isBlank() ? Optional.empty() : cache.get(new Key(token, roomId), clock.millis());
  }

  @Override
  public CompletionStage<AuthResult> verify(String token, String roomId) {
    if (token == null || token.isBlank()) {
      return CompletableFuture.completedFuture(new AuthResult.Denied(401, AuthResult.Denied.MISSING_TOKEN,
          "a token is required: send it as the query parameter 'token' or an 'Authorization: Bearer' header"));
    }
    Key key = new Key(token, roomId);
    Optional<AuthResult.Allowed> cached = cache.get(key, clock.millis());
    if (cached.isPresent()) {
      return CompletableFuture.completedFuture(cached.get());
    }
    CompletableFuture<AuthResult> result = new CompletableFuture<>();
    try {
      HttpRequest request = HttpRequest.newBuilder(verifyUri)
          .timeout(requestTimeout)
          .header("Authorization", authorization)
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(requestBody(token, roomId)))
          .build();
      // the request's own timeout ends at the response headers; this one also bounds a stalled body
      http.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray())
          .orTimeout(requestTimeout.toMillis(), TimeUnit.MILLISECONDS)
          .whenComplete((response, error) -> {
            try {
              result.complete(error != null ? unanswered(roomId, error) : meaning(key, response));
            } catch (RuntimeException e) {
              result.complete(unavailable(roomId, "verifier answer could not be read", e.toString()));
            }
          });
    } catch (RuntimeException e) {
      result.complete(unanswered(roomId, e));
    }
    return result;
  }

  private static byte[] requestBody(String token, String roomId) {
    ObjectNode body = JSON.createObjectNode().put("token", token).put("roomId", roomId);
    try {
      return JSON.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode a verify request", e);
    }
  }

  private AuthResult meaning(Key key, HttpResponse<byte[]> response) {
    int status = response.statusCode();
    String roomId = key.roomId();
    switch (status) {
      case 200: {
        JsonNode answer = json(response.body());
        JsonNode userId = answer == null ? null : answer.get("userId");
        JsonNode access = answer == null ? null : answer.get("access");
        if (userId == null || !userId.isTextual() || userId.asText().isEmpty() || access == null || !access.isTextual()) {
          return contractBroken(roomId, "200 without a userId and an access string: " + excerpt(response.body()));
        }
        AuthResult.Allowed allowed;
        switch (access.asText()) {
          case "write": allowed = new AuthResult.Allowed(userId.asText(), Access.WRITE); break;
          case "read": allowed = new AuthResult.Allowed(userId.asText(), Access.READ); break;
          default: return contractBroken(roomId, "200 with access \"" + excerpt(access.asText()) + "\" (expected write or read)");
        }
        cache.put(key, allowed, clock.millis());
        return allowed;
      }
      case 401:
        log.info("room {}: token denied by the verifier (401)", roomId);
        return new AuthResult.Denied(401, AuthResult.Denied.UNAUTHORIZED,
            message(response.body()).orElse("the token is not valid (unknown or expired)"));
      case 403:
        log.info("room {}: token has no access, says the verifier (403)", roomId);
        return new AuthResult.Denied(403, AuthResult.Denied.FORBIDDEN,
            message(response.body()).orElse("this token gives no access to room " + roomId));
      default:
        return unavailable(roomId, "verifier answered HTTP " + status, excerpt(response.body()));
    }
  }

  private AuthResult unanswered(String roomId, Throwable error) {
    Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    if (cause instanceof HttpTimeoutException || cause instanceof TimeoutException) {
      return unavailable(roomId, "verifier did not answer within " + requestTimeout.toMillis() + " ms", cause.toString());
    }
    if (cause instanceof ConnectException) {
      return unavailable(roomId, "verifier unreachable", cause.toString());
    }
    if (cause instanceof IOException) {
      return unavailable(roomId, "verifier connection failed", cause.toString());
    }
    return unavailable(roomId, "verifier request failed", cause.toString());
  }

  /** The message goes to the client; the detail, which may name our infrastructure, only to the log. */
  private AuthResult unavailable(String roomId, String message, String detail) {
    log.warn("room {}: cannot verify the token at {}: {} ({})", roomId, verifyUri, message, detail);
    return new AuthResult.Unavailable("token verification is unavailable: " + message);
  }

  private AuthResult contractBroken(String roomId, String detail) {
    log.error("room {}: the verifier at {} answered outside the contract, refusing the connection with 503: {}",
        roomId, verifyUri, detail);
    return new AuthResult.Unavailable("token verification is unavailable: unexpected verifier answer");
  }

  private static JsonNode json(byte[] body) {
    try {
      JsonNode node = JSON.readTree(body);
      return node != null && node.isObject() ? node : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** Convex's own {@code message} for a denial, if it sent one as JSON. */
  private static Optional<String> message(byte[] body) {
    JsonNode answer = json(body);
    JsonNode message = answer == null ? null : answer.get("message");
    return message != null && message.isTextual() && !message.asText().isBlank()
        ? Optional.of(excerpt(message.asText()))
        : Optional.empty();
  }

  private static String excerpt(byte[] body) {
    return excerpt(new String(body, StandardCharsets.UTF_8).strip());
  }

  private static String excerpt(String text) {
    return text.length() > MESSAGE_CHARS ? text.substring(0, MESSAGE_CHARS) + "…" : text;
  }

  private record Key(String token, String roomId) {}

  /** Allowed answers by (token, room), each valid until its expiry; insertion order = expiry order. */
  private static final class AllowedCache {
    private record Entry(AuthResult.Allowed allowed, long expiresAtMillis) {}

    private final long ttlMillis;
    private final int maxEntries;
    private final LinkedHashMap<Key, Entry> entries;

    AllowedCache(long ttlMillis, int maxEntries) {
      this.ttlMillis = ttlMillis;
      this.maxEntries = maxEntries;
      this.entries = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Entry> eldest) {
          return size() > AllowedCache.this.maxEntries;
        }
      };
    }

    synchronized Optional<AuthResult.Allowed> get(Key key, long nowMillis) {
      Entry entry = entries.get(key);
      if (entry == null) {
        return Optional.empty();
      }
      if (nowMillis >= entry.expiresAtMillis()) {
        entries.remove(key);
        return Optional.empty();
      }
      return Optional.of(entry.allowed());
    }

    synchronized void put(Key key, AuthResult.Allowed allowed, long nowMillis) {
      if (ttlMillis <= 0 || maxEntries <= 0) {
        return;
      }
      entries.remove(key); // re-insert at the end: it now expires last
      entries.put(key, new Entry(allowed, nowMillis + ttlMillis));
    }
  }
}
