package dev.ripple.collab.convex;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict stand-in for the Convex HTTP actions of the collaboration contract, on 127.0.0.1 and a
 * free port. It answers only exactly what the contract allows and records every request; anything
 * else is answered as Convex would (401 bad secret, 404 unknown route, 405, 415, 400) and also
 * listed in {@link #violations()}, which a test expects to be empty. A save must carry
 * {@code &updates=<count>}; as the reference, a save with a lower count than the stored snapshot's
 * is answered {@code "stored":false} and not stored, and a GET answers the count in
 * {@value #UPDATES_HEADER}. A missing snapshot is the reference's 404 {@code application/json}
 * {@code {"error":"not_found","message":..}}, or whatever {@link #answerMissingWith} says (an app's
 * own deployed code). Faults are injected on demand: the next N answers with a status (or a whole
 * answer, e.g. a bare HTML 404), every snapshot answer until further notice (e.g. Convex's {@value #NO_ROUTE}
 * of a deployment without the routes: {@link #answerSnapshotsWith}), a delay before every answer, or no listener at all.
 */
public final class ConvexStandIn implements AutoCloseable {
  public static final String SNAPSHOT = "/collaboration/snapshot";
  public static final String VERIFY = "/collaboration/verify";
  /** What a deployed Convex answers (404, plain text) for a path that no route matches. */
  public static final String NO_ROUTE = "No matching routes found";
  private static final ObjectMapper JSON = new ObjectMapper();
  // exactly one parameter, every byte outside RFC 3986's unreserved set percent-encoded
  private static final Pattern ROOM_QUERY = Pattern.compile("roomId=((?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})+)");
  // a save: the room, then the count of updates it covers
  private static final Pattern SAVE_QUERY = Pattern.compile(ROOM_QUERY.pattern() + "&updates=(0|[1-9][0-9]{0,17})");
  /** The GET answer's header with the count of updates the snapshot covers. */
  public static final String UPDATES_HEADER = "X-Ripple-Updates";

  /** One request as received. */
  public record Request(String method, String path, String rawQuery, Map<String, List<String>> headers, byte[] body,
      long receivedNanos) {
    public Optional<String> header(String name) {
      List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
      return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
    }

    public JsonNode json() throws IOException {
      return JSON.readTree(body);
    }
  }

  private record Grant(String userId, String access) {}

  /** A stored snapshot; {@code updates} null: stored by Convex code from before the count (no header). */
  private record Stored(byte[] state, Long updates) {}

  private final String secret;
  private final HttpServer server;
  private final ExecutorService executor;
  private final URI siteUrl;
  private final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
  private final List<String> violations = Collections.synchronizedList(new ArrayList<>());
  private final Map<String, Stored> snapshots = new ConcurrentHashMap<>();
  private final Map<String, Map<String, Grant>> grants = new ConcurrentHashMap<>();
  private final AtomicInteger faultsLeft = new AtomicInteger();
  private volatile Reply fault = injected(500);
  private volatile Reply missing = null;
  private volatile Reply snapshotFault = null;
  private volatile Duration delay = Duration.ZERO;
  private volatile Duration stall = Duration.ZERO;

  private ConvexStandIn(String secret) throws IOException {
    this.secret = secret;
    this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    this.executor = Executors.newCachedThreadPool(task -> {
      Thread t = new Thread(task, "convex-stand-in");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
    this.siteUrl = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  /** Starts listening on 127.0.0.1; requests must carry {@code Authorization: Bearer <secret>}. */
  public static ConvexStandIn start(String secret) throws IOException {
    return new ConvexStandIn(secret);
  }

  /** What CONVEX_SITE_URL would be. */
  public URI siteUrl() {
    return siteUrl;
  }

  public List<Request> requests() {
    synchronized (requests) {
      return List.copyOf(requests);
    }
  }

  public long requestsTo(String path) {
    return requests().stream().filter(r -> r.path().equals(path)).count();
  }

  /** Every way a request broke the contract, in order. */
  public List<String> violations() {
    synchronized (violations) {
      return List.copyOf(violations);
    }
  }

  public Optional<byte[]> snapshot(String roomId) {
    return Optional.ofNullable(snapshots.get(roomId)).map(s -> s.state().clone());
  }

  /** The count of updates the room's snapshot covers (0 for one put without a count). */
  public Optional<Long> snapshotUpdates(String roomId) {
    return Optional.ofNullable(snapshots.get(roomId)).map(s -> s.updates() == null ? 0L : s.updates());
  }

  /** Stores a snapshot as Convex code from before the count would have: its GET has no {@value #UPDATES_HEADER}. */
  public void putSnapshot(String roomId, byte[] state) {
    snapshots.put(roomId, new Stored(state.clone(), null));
  }

  public void putSnapshot(String roomId, byte[] state, long updates) {
    snapshots.put(roomId, new Stored(state.clone(), updates));
  }

  /**
   * Lets {@code token} open {@code roomId} as {@code userId} with {@code access} (sent as given, so a
   * test can send values outside the contract). An unknown token is 401; a known token without a
   * grant for the room is 403.
   */
  public void grant(String token, String roomId, String userId, String access) {
    grants.computeIfAbsent(token, t -> new ConcurrentHashMap<>()).put(roomId, new Grant(userId, access));
  }

  /** From now on {@code token} is unknown (401), as a revoked or expired token. */
  public void revoke(String token) {
    grants.remove(token);
  }

  /** From now on {@code token} has no access to {@code roomId} (403). */
  public void revoke(String token, String roomId) {
    Map<String, Grant> rooms = grants.get(token);
    if (rooms != null) rooms.remove(roomId);
  }

  /** The next {@code n} requests are answered 500. */
  public void failNext(int n) {
    answerNext(n, 500);
  }

  /**
   * The next {@code n} requests are answered with {@code status} and a JSON error body
   * {@code {"error":"injected",...}} (after the contract checks). A 404 so injected reads as "no
   * snapshot", as any 404 but Convex's no-route answer does.
   */
  public void answerNext(int n, int status) {
    fault = injected(status);
    faultsLeft.set(n);
  }

  /**
   * The next {@code n} requests are answered with exactly this status, content type and body (after
   * the contract checks), e.g. an HTML 404 page or a 503 of a proxy in front of the deployment.
   */
  public void answerNext(int n, int status, String contentType, String body) {
    answerNext(n, status, contentType, body, Map.of());
  }

  /** As {@link #answerNext(int, int, String, String)}, with these response headers too. */
  public void answerNext(int n, int status, String contentType, String body, Map<String, String> headers) {
    fault = new Reply(status, contentType, body.getBytes(StandardCharsets.UTF_8), Map.copyOf(headers));
    faultsLeft.set(n);
  }

  /**
   * From now on a GET of a room without a snapshot is answered with exactly this, as an app's own
   * deployed code might answer it, instead of the reference's JSON.
   */
  public void answerMissingWith(int status, String contentType, String body) {
    missing = new Reply(status, contentType, body.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * From now on every request to {@value #SNAPSHOT} is answered with exactly this, before any check
   * (a backend that fails until it is mended), until {@link #answerSnapshotsNormally()}.
   */
  public void answerSnapshotsWith(int status, String contentType, String body) {
    snapshotFault = new Reply(status, contentType, body.getBytes(StandardCharsets.UTF_8));
  }

  /** Ends {@link #answerSnapshotsWith}. */
  public void answerSnapshotsNormally() {
    snapshotFault = null;
  }

  /** Every answer from now on waits this long first. */
  public void delayResponses(Duration delay) {
    this.delay = delay;
  }

  /** Every answer from now on sends its headers, then waits this long before its body. */
  public void stallBodies(Duration stall) {
    this.stall = stall;
  }

  /** Closes the listener: from now on connections are refused. */
  public void stopListening() {
    server.stop(0);
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      byte[] body = exchange.getRequestBody().readAllBytes();
      Map<String, List<String>> headers = new java.util.TreeMap<>();
      exchange.getRequestHeaders().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), List.copyOf(v)));
      Request request = new Request(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(),
          exchange.getRequestURI().getRawQuery(), Map.copyOf(headers), body, System.nanoTime());
      requests.add(request);
      if (!delay.isZero()) {
        try {
          Thread.sleep(delay.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
      answer(exchange, request);
    }
  }

  private void answer(HttpExchange exchange, Request request) throws IOException {
    String method = request.method();
    String path = request.path();
    if (!path.equals(SNAPSHOT) && !path.equals(VERIFY)) {
      violation(404, request, "no route " + path);
      reply(exchange, new Reply(404, "text/plain;charset=UTF-8", NO_ROUTE.getBytes(StandardCharsets.UTF_8)));
      return;
    }
    boolean snapshot = path.equals(SNAPSHOT);
    Reply override = snapshotFault;
    if (snapshot && override != null) {
      reply(exchange, override);
      return;
    }
    if (snapshot ? !(method.equals("GET") || method.equals("POST")) : !method.equals("POST")) {
      reply(exchange, violation(405, request, method + " " + path));
      return;
    }
    if (!request.header("Authorization").equals(Optional.of("Bearer " + secret))) {
      reply(exchange, violation(401, request, "Authorization is not 'Bearer <secret>'"));
      return;
    }
    if (method.equals("POST")) {
      String expected = snapshot ? "application/octet-stream" : "application/json";
      String type = request.header("Content-Type").orElse("").split(";")[0].strip().toLowerCase(Locale.ROOT);
      if (!type.equals(expected)) {
        reply(exchange, violation(415, request, "Content-Type " + request.header("Content-Type").orElse("(none)")
            + ", expected " + expected));
        return;
      }
    }
    String roomId = null;
    long updates = 0;
    if (snapshot) {
      Matcher query = (method.equals("POST") ? SAVE_QUERY : ROOM_QUERY).matcher(request.rawQuery() == null ? "" : request.rawQuery());
      roomId = query.matches() ? roomIdOf(query.group(1)) : null;
      if (roomId == null) {
        reply(exchange, violation(400, request, (method.equals("POST") ? "not exactly roomId=<id>&updates=<count>"
            : "not exactly roomId=<id>") + ", strictly percent-encoded: " + request.rawQuery()));
        return;
      }
      if (method.equals("POST")) {
        updates = Long.parseLong(query.group(2));
      }
      if (method.equals("POST") && request.body().length == 0) {
        reply(exchange, violation(400, request, "empty snapshot"));
        return;
      }
    }
    JsonNode verify = null;
    if (!snapshot) {
      verify = verifyBody(request.body());
      if (verify == null) {
        reply(exchange, violation(400, request, "body is not {\"token\":string,\"roomId\":string}"));
        return;
      }
    }
    if (faultsLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      reply(exchange, fault);
      return;
    }
    if (snapshot && method.equals("POST")) {
      // as the reference: the newest snapshot wins (an equal count is stored), not the last to arrive
      Stored offered = new Stored(request.body(), updates);
      Stored kept = snapshots.merge(roomId, offered,
          (old, neu) -> old.updates() != null && old.updates() > neu.updates() ? old : neu);
      boolean stored = kept == offered;
      reply(exchange, new Reply(200, "application/json", JSON.writeValueAsBytes(Map.of(
          "ok", true, "stored", stored, "updates", kept.updates()))));
    } else if (snapshot) {
      Stored kept = snapshots.get(roomId);
      Reply none = missing;
      reply(exchange, kept == null
          ? none != null ? none : json(404, Map.of("error", "not_found", "message", "no snapshot for room " + roomId))
          : new Reply(200, "application/octet-stream", kept.state(),
              kept.updates() == null ? Map.of() : Map.of(UPDATES_HEADER, Long.toString(kept.updates()))));
    } else {
      reply(exchange, verdict(verify.get("token").asText(), verify.get("roomId").asText()));
    }
  }

  private Reply verdict(String token, String roomId) throws IOException {
    Map<String, Grant> rooms = grants.get(token);
    if (rooms == null) {
      return json(401, Map.of("error", "invalid_token", "message", "token expired or unknown"));
    }
    Grant grant = rooms.get(roomId);
    if (grant == null) {
      return json(403, Map.of("error", "forbidden", "message", "no access to " + roomId));
    }
    return json(200, Map.of("userId", grant.userId(), "access", grant.access()));
  }

  private static Reply json(int status, Map<String, String> body) throws IOException {
    return new Reply(status, "application/json", JSON.writeValueAsBytes(body));
  }

  private static JsonNode verifyBody(byte[] body) {
    try {
      JsonNode node = JSON.readTree(body);
      boolean ok = node != null && node.isObject() && node.size() == 2
          && node.path("token").isTextual() && node.path("roomId").isTextual();
      return ok ? node : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** The decoded roomId (strictly percent-encoded already), or null unless it is valid UTF-8. */
  private static String roomIdOf(String encoded) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (int i = 0; i < encoded.length(); i++) {
      char c = encoded.charAt(i);
      if (c == '%') {
        bytes.write(Integer.parseInt(encoded.substring(i + 1, i + 3), 16));
        i += 2;
      } else {
        bytes.write(c);
      }
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  private record Reply(int status, String contentType, byte[] body, Map<String, String> headers) {
    Reply(int status, String contentType, byte[] body) {
      this(status, contentType, body, Map.of());
    }
  }

  private static Reply injected(int status) {
    return new Reply(status, "application/json",
        "{\"error\":\"injected\",\"message\":\"injected fault\"}".getBytes(StandardCharsets.UTF_8));
  }

  private Reply violation(int status, Request request, String what) {
    violations.add(request.method() + " " + request.path() + ": " + what);
    return new Reply(status, "application/json",
        ("{\"error\":\"contract\",\"message\":" + quote(what) + "}").getBytes(StandardCharsets.UTF_8));
  }

  private static String quote(String s) {
    try {
      return JSON.writeValueAsString(s);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private void reply(HttpExchange exchange, Reply reply) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", reply.contentType());
    reply.headers().forEach(exchange.getResponseHeaders()::set);
    exchange.sendResponseHeaders(reply.status(), reply.body().length == 0 ? -1 : reply.body().length);
    try (OutputStream out = exchange.getResponseBody()) {
      if (!stall.isZero() && reply.body().length > 0) {
        out.write(reply.body(), 0, 1);
        out.flush();
        try {
          Thread.sleep(stall.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
        out.write(reply.body(), 1, reply.body().length - 1);
      } else {
        out.write(reply.body());
      }
    }
  }
}
