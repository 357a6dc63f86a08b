package dev.ripple.collab.backup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.ripple.collab.config.ConvexSettings;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * Backups in Convex through its HTTP actions: {@code POST {site}/collaboration/snapshot?roomId=…&updates=N}
 * with the state as {@code application/octet-stream} and the count of updates it covers (Convex keeps
 * the snapshot with the higher count: a 2xx whose JSON body says {@code "stored":false} is
 * {@link SaveResult.KeptNewer}, every other 2xx, with or without a body, is stored) and {@code GET …?roomId=…} (200 is
 * the snapshot, its count in {@value #UPDATES_HEADER}, absent = 0; a 404 means none, whatever its
 * body, as in the seed server, except Convex's own answer for a path no route matches, the plain text
 * {@value #NO_ROUTE}; see {@link #isNoRoute}). Both carry {@code Authorization: Bearer <secret>}. Every other outcome
 * (another status, that "no route" 404, a timeout, a refused connection) is a {@link BackupException}.
 * The request timeout bounds the whole exchange, body included: raise it for very large documents
 * over slow links.
 * Room ids are percent-encoded as UTF-8, a space as {@code %20} (never {@code +}).
 */
public final class ConvexBackup implements SnapshotBackup {
  private static final String PATH = "/collaboration/snapshot";
  /** Convex's answer (HTTP 404, plain text) for a path that no route of the deployment matches. */
  public static final String NO_ROUTE = "No matching routes found";
  /** The same answer from the JavaScript router of {@code convex/server}, followed by the path. */
  public static final String NO_ROUTE_JS = "No HttpAction routed for ";
  private static final int EXCERPT_CHARS = 200;
  private static final ObjectReader JSON = new ObjectMapper().reader();
  /** The GET answer's header: how many journaled updates the snapshot covers. */
  public static final String UPDATES_HEADER = "X-Ripple-Updates";

  private final URI siteUrl;
  private final String authorization;
  private final Duration requestTimeout;
  private final HttpClient http;

  /**
   * @param siteUrl the deployment's HTTP actions URL, e.g. {@code https://happy-otter-123.convex.site}
   * @param requestTimeout how long one request may take, connecting included, before it fails
   */
  public ConvexBackup(URI siteUrl, String secret, Duration requestTimeout, HttpClient http) {
    this.siteUrl = ConvexSettings.siteUrl(siteUrl.toString());
    this.authorization = "Bearer " + secret;
    this.requestTimeout = requestTimeout;
    this.http = http;
  }

  /** The client the factory uses. It never follows redirects: a 3xx means a wrong URL, reported, not chased with the secret. */
  public static HttpClient defaultClient(Duration connectTimeout) {
    return HttpClient.newBuilder().connectTimeout(connectTimeout).followRedirects(HttpClient.Redirect.NEVER).build();
  }

  /** {@code {site}/collaboration/snapshot?roomId=<percent-encoded UTF-8>}: the load's URL. */
  public URI snapshotUri(String roomId) {
    return URI.create(siteUrl + PATH + "?roomId=" + URLEncoder.encode(roomId, StandardCharsets.UTF_8).replace("+", "%20"));
  }

  /** {@code {site}/collaboration/snapshot?roomId=<percent-encoded UTF-8>&updates=<N>}: the save's URL. */
  public URI snapshotUri(String roomId, long updates) {
    return URI.create(snapshotUri(roomId) + "&updates=" + updates);
  }

  @Override
  public CompletionStage<SaveResult> save(String roomId, byte[] state, long updates) {
    HttpRequest request = HttpRequest.newBuilder(snapshotUri(roomId, updates))
        .timeout(requestTimeout)
        .header("Authorization", authorization)
        .header("Content-Type", "application/octet-stream")
        .POST(HttpRequest.BodyPublishers.ofByteArray(state))
        .build();
    return exchange(roomId, "backup", request, response -> {
      if (response.statusCode() / 100 == 2) return saveResult(response.body());
      throw rejected(roomId, "backup", response);
    });
  }

  /**
   * What a 2xx answer to a save means. The reference answers {@code {"ok":true,"stored":false,"updates":N}}
   * when it keeps a snapshot covering more updates (N of them): refused. Anything else is stored, as the
   * seed took every 2xx: no body, a body that is not JSON, JSON without {@code stored} (an app's own
   * Convex code from before the count), {@code "stored":true}.
   */
  static SaveResult saveResult(byte[] body) {
    JsonNode answer;
    try {
      answer = body.length == 0 ? null : JSON.readTree(body);
    } catch (IOException e) {
      return SaveResult.Stored.INSTANCE;
    }
    if (answer == null || !answer.path("stored").isBoolean() || answer.path("stored").booleanValue()) {
      return SaveResult.Stored.INSTANCE;
    }
    JsonNode kept = answer.path("updates");
    return new SaveResult.KeptNewer(kept.isIntegralNumber() && kept.canConvertToLong() && kept.asLong() >= 0
        ? OptionalLong.of(kept.asLong()) : OptionalLong.empty());
  }

  @Override
  public CompletionStage<Optional<Backup>> load(String roomId) {
    HttpRequest request = request(roomId).GET().build();
    return exchange(roomId, "loading the backup", request, response -> {
      switch (response.statusCode()) {
        case 200: return Optional.of(new Backup(response.body(), updatesOf(response)));
        case 404:
          if (isNoRoute(response.body())) throw rejected(roomId, "loading the backup", response);
          return Optional.empty();
        default: throw rejected(roomId, "loading the backup", response);
      }
    });
  }

  /**
   * The count of updates a loaded snapshot covers, from {@value #UPDATES_HEADER}; absent (Convex
   * code from before the count) is 0.
   *
   * @throws IllegalArgumentException when the header is not a count: a guess could make every
   *     later save of the room look older than the backup
   */
  private static long updatesOf(HttpResponse<byte[]> response) {
    Optional<String> header = response.headers().firstValue(UPDATES_HEADER);
    if (header.isEmpty()) return 0;
    String value = header.get().strip();
    if (!value.matches("[0-9]{1,18}")) {
      throw new IllegalArgumentException(UPDATES_HEADER + " is not a count of updates: " + value);
    }
    return Long.parseLong(value);
  }

  /**
   * Whether a 404's body is Convex's own "no route": {@value #NO_ROUTE} (what a deployment answers
   * for a path no route matches), or {@value #NO_ROUTE_JS}{@code <path>} (the same answer from the
   * router in {@code convex/server}, as convex-test gives it), blanks around it and case aside. Then
   * the deployment lacks the collaboration routes, the 404 says nothing about the room, and reading
   * it as a new document would let the room's next save overwrite a good backup. Every other 404
   * (the reference's JSON, an app's own body, an empty one, an HTML page) means no snapshot.
   */
  static boolean isNoRoute(byte[] body) {
    if (body.length > 1024) return false;
    String text = new String(body, StandardCharsets.UTF_8).strip();
    return text.equalsIgnoreCase(NO_ROUTE)
        || text.regionMatches(true, 0, NO_ROUTE_JS, 0, NO_ROUTE_JS.length()) && text.indexOf('\n') < 0;
  }

  private HttpRequest.Builder request(String roomId) {
    return HttpRequest.newBuilder(snapshotUri(roomId)).timeout(requestTimeout).header("Authorization", authorization);
  }

  /** Sends, and completes the returned stage with the answer's meaning or directly with a BackupException. */
  private <T> CompletionStage<T> exchange(String roomId, String action, HttpRequest request,
      Function<HttpResponse<byte[]>, T> meaning) {
    CompletableFuture<T> result = new CompletableFuture<>();
    try {
      // the request's own timeout ends at the response headers; this one also bounds a stalled body
      http.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray())
          .orTimeout(requestTimeout.toMillis(), TimeUnit.MILLISECONDS)
          .whenComplete((response, error) -> {
            if (error != null) {
              result.completeExceptionally(unanswered(roomId, action, error));
              return;
            }
            try {
              result.complete(meaning.apply(response));
            } catch (BackupException e) {
              result.completeExceptionally(e);
            } catch (RuntimeException e) {
              result.completeExceptionally(new BackupException(roomId, response.statusCode(),
                  action + " of room " + roomId + ": unreadable answer: " + e, e));
            }
          });
    } catch (RuntimeException e) {
      result.completeExceptionally(unanswered(roomId, action, e));
    }
    return result;
  }

  private BackupException rejected(String roomId, String action, HttpResponse<byte[]> response) {
    int status = response.statusCode();
    String hint = switch (status) {
      case 401, 403 -> " (check that PARTYKIT_SECRET matches the Convex deployment's)";
      case 404 -> " (Convex has no route " + PATH + " at " + siteUrl + ": deploy the collaboration HTTP actions"
          + " (Ripple's convex/ functions) there, or check CONVEX_SITE_URL)";
      default -> "";
    };
    // one log line, also for an HTML error page
    String body = new String(response.body(), StandardCharsets.UTF_8).strip().replaceAll("\\s+", " ");
    if (body.length() > EXCERPT_CHARS) {
      body = body.substring(0, EXCERPT_CHARS) + "…";
    }
    return new BackupException(roomId, status, action + " of room " + roomId + " at " + siteUrl + " failed: HTTP "
        + status + hint + (body.isEmpty() ? "" : ": " + body));
  }

  private BackupException unanswered(String roomId, String action, Throwable error) {
    Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    String why;
    if (cause instanceof HttpTimeoutException || cause instanceof TimeoutException) {
      why = "no answer within " + requestTimeout.toMillis() + " ms";
    } else if (cause instanceof ConnectException) {
      why = "cannot connect (" + cause.getMessage() + ")";
    } else if (cause instanceof IOException) {
      why = "I/O error (" + cause + ")";
    } else {
      why = cause.toString();
    }
    return new BackupException(roomId, BackupException.NO_STATUS,
        action + " of room " + roomId + " at " + siteUrl + " failed: " + why, cause);
  }
}
