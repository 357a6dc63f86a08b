package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.Main;
import dev.ripple.collab.convex.ConvexStandIn;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.SteadyProvider;
import dev.ripple.collab.testkit.TestServers;
import dev.ripple.collab.yjs.YDoc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The document API with the real server and real providers: what the app's backend POSTs reaches
 * connected clients; what clients write, the backend reads; Convex mode needs the shared secret.
 */
class DocumentApiEndToEndTest {
  static final String SECRET = "api-secret";
  // yjs 13.6.33: client 1 types "hello" into the root text "text"; then " world" after it
  static final byte[] HELLO = Base64.getDecoder().decode("AQEBAAQBBHRleHQFaGVsbG8A");
  static final byte[] WORLD = Base64.getDecoder().decode("AQEBBYQBBAYgd29ybGQA");

  private final HttpClient http = HttpClient.newHttpClient();
  private ConvexStandIn convex;
  private Main.Server server;

  @BeforeAll
  static void install() throws Exception {
    NodeProcess.ensureInstalled();
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
    if (convex != null) convex.close();
  }

  private void start(boolean withConvex, Map<String, Object> extra) throws Exception {
    Map<String, Object> overrides = TestServers.loopback(TestServers.dataDir("api-data"));
    if (withConvex) {
      convex = ConvexStandIn.start(SECRET);
      overrides.put("ripple.convex.site-url", convex.siteUrl().toString());
      overrides.put("ripple.convex.secret", SECRET);
    }
    overrides.putAll(extra);
    server = Main.start(TestServers.config(overrides));
  }

  private HttpResponse<byte[]> send(String method, String path, byte[] body, String authorization) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body))
        .header("Content-Type", "application/octet-stream");
    if (authorization != null) b.header("Authorization", authorization);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static String text(HttpResponse<byte[]> r) {
    return new String(r.body(), java.nio.charset.StandardCharsets.UTF_8);
  }

  @Test
  void aPostedUpdateReachesConnectedProvidersAndIsJournaled() throws Exception {
    start(false, Map.of());
    // a provider connected to the room waits for the text the backend is about to write
    Path log = NodeProcess.WORK.resolve("api-read.log");
    Files.createDirectories(log.getParent());
    Process reader = new ProcessBuilder("node", "e2e/e2e.mjs", "read", Integer.toString(server.port()), "doc-api", "hello world")
        .directory(NodeProcess.CONFORMANCE.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      Thread.sleep(1500); // connected and synced (its wait for the text is bounded by the script)
      HttpResponse<byte[]> r = send("POST", "/api/rooms/doc-api/update", HELLO, null);
      assertEquals(200, r.statusCode(), text(r));
      assertTrue(text(r).contains("\"ok\":true"), text(r));
      assertEquals(200, send("POST", "/api/rooms/doc-api/update", WORLD, null).statusCode());
      assertTrue(reader.waitFor(60, TimeUnit.SECONDS), "the provider saw the posted text");
      assertEquals(0, reader.exitValue(), Files.readString(log));
    } finally {
      reader.destroyForcibly();
    }
    // the full state, and what a state vector lacks
    HttpResponse<byte[]> all = send("GET", "/api/rooms/doc-api/update", null, null);
    assertEquals(200, all.statusCode());
    assertEquals("application/octet-stream", all.headers().firstValue("Content-Type").orElse(""));
    YDoc doc = new YDoc();
    doc.apply(all.body());
    assertEquals(Map.of(1L, 11L), doc.stateVectorMap());
    YDoc half = new YDoc();
    half.apply(HELLO);
    String sv = Base64.getUrlEncoder().withoutPadding().encodeToString(half.stateVector());
    HttpResponse<byte[]> diff = send("GET", "/api/rooms/doc-api/update?stateVector=" + sv, null, null);
    half.apply(diff.body());
    assertEquals(Map.of(1L, 11L), half.stateVectorMap());
    assertTrue(diff.body().length < all.body().length, "only what the state vector lacks");
  }

  @Test
  void whatProvidersWriteTheBackendReads() throws Exception {
    start(false, Map.of());
    NodeProcess.run(NodeProcess.CONFORMANCE, List.of("node", "e2e/e2e.mjs", "write", Integer.toString(server.port()), "doc-api-read",
        "written by a provider ✓"), NodeProcess.WORK.resolve("api-write.log"), 120);
    HttpResponse<byte[]> all = send("GET", "/api/rooms/doc-api-read/update", null, null);
    YDoc doc = new YDoc();
    doc.apply(all.body());
    assertEquals(1, doc.stateVectorMap().size());
    HttpResponse<byte[]> json = send("GET", "/api/rooms/doc-api-read/json?text=text&map=missing&array=list", null, null);
    assertEquals(200, json.statusCode(), text(json));
    assertEquals("application/json", json.headers().firstValue("Content-Type").orElse(""));
    assertEquals("{\"text\":{\"text\":\"written by a provider ✓\"},\"map\":{\"missing\":{}},\"array\":{\"list\":[]}}", text(json));
    assertEquals(400, send("GET", "/api/rooms/doc-api-read/json", null, null).statusCode()); // nothing named
  }

  @Test
  void garbageIs400TooLargeIs413AndABadRoomIs400() throws Exception {
    start(false, Map.of("ripple.limits.max-message-bytes", "1 KiB"));
    HttpResponse<byte[]> garbage = send("POST", "/api/rooms/doc-api-bad/update", new byte[] {1, 2, 3, (byte) 0xff}, null);
    assertEquals(400, garbage.statusCode());
    assertTrue(text(garbage).startsWith("{\"error\":\"malformed_update\""), text(garbage));
    HttpResponse<byte[]> big = send("POST", "/api/rooms/doc-api-bad/update", new byte[4096], null);
    assertEquals(413, big.statusCode(), text(big));
    assertTrue(text(big).contains("too_large"), text(big));
    assertEquals(400, send("GET", "/api/rooms/not-a-room/update", null, null).statusCode());
    assertEquals(400, send("GET", "/api/rooms/doc-x/update?stateVector=not*base64", null, null).statusCode());
    // the room is unharmed: a good update still goes in
    assertEquals(200, send("POST", "/api/rooms/doc-api-bad/update", HELLO, null).statusCode());
  }

  /**
   * A state vector that is base64url but no Yjs state vector (issue 18: {@code AQ} stopped the room,
   * closed every client with 1012 and answered 503 after the 10 s request timeout) is a 400
   * {@code bad_state_vector}, answered well within the timeout; a provider connected to the room
   * stays connected and still receives what is written afterwards.
   */
  @Test
  void aMalformedStateVectorIs400AndTheRoomAndItsClientsCarryOn() throws Exception {
    start(false, Map.of());
    String room = "doc-api-sv";
    try (SteadyProvider provider = SteadyProvider.start(server.port(), room, "hello world")) {
      // AQ: one entry announced, none there; AgEB: two announced, one half there; _w: a varUint that never ends;
      // AQH__________38: a clock past 2^53; AAA: the empty vector with a byte after it
      for (String sv : List.of("AQ", "AgEB", "_w", "AQH__________38", "AAA")) {
        HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
            + "/api/rooms/" + room + "/update?stateVector=" + sv)).timeout(java.time.Duration.ofSeconds(5)).GET().build(),
            HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(400, r.statusCode(), sv + ": " + text(r));
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""), sv);
        assertTrue(text(r).startsWith("{\"error\":\"bad_state_vector\",\"message\":\""), sv + ": " + text(r));
      }
      assertEquals(200, send("POST", "/api/rooms/" + room + "/update", HELLO, null).statusCode());
      assertEquals(200, send("POST", "/api/rooms/" + room + "/update", WORLD, null).statusCode());
      provider.assertStayedAndSaw();
    }
    // a good state vector still gets its diff
    YDoc half = new YDoc();
    half.apply(HELLO);
    HttpResponse<byte[]> diff = send("GET", "/api/rooms/" + room + "/update?stateVector="
        + Base64.getUrlEncoder().withoutPadding().encodeToString(half.stateVector()), null, null);
    assertEquals(200, diff.statusCode());
    half.apply(diff.body());
    assertEquals(Map.of(1L, 11L), half.stateVectorMap());
  }

  @Test
  void withConvexTheApiNeedsTheSharedSecret() throws Exception {
    start(true, Map.of());
    HttpResponse<byte[]> none = send("GET", "/api/rooms/doc-api-auth/update", null, null);
    assertEquals(401, none.statusCode());
    assertTrue(text(none).startsWith("{\"error\":\"unauthorized\""), text(none));
    assertEquals(401, send("POST", "/api/rooms/doc-api-auth/update", HELLO, "Bearer wrong").statusCode());
    assertEquals(200, send("POST", "/api/rooms/doc-api-auth/update", HELLO, "Bearer " + SECRET).statusCode());
    assertEquals(200, send("GET", "/api/rooms/doc-api-auth/update", null, "Bearer " + SECRET).statusCode());
  }
}
