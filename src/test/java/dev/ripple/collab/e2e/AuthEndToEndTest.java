package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.Main;
import dev.ripple.collab.convex.ConvexStandIn;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.TestServers;
import dev.ripple.collab.testkit.UpgradeRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Auth before the upgrade, against the strict Convex stand-in on loopback. */
class AuthEndToEndTest {
  static final String SECRET = "test-secret";
  // yjs 13.6.33: client 1 types "hello" into the root text "text"
  static final byte[] HELLO = Base64.getDecoder().decode("AQEBAAQBBHRleHQFaGVsbG8A");

  private ConvexStandIn convex;
  private Main.Server server;

  @BeforeAll
  static void install() throws Exception {
    NodeProcess.ensureInstalled();
  }

  @BeforeEach
  void start() throws Exception {
    convex = ConvexStandIn.start(SECRET);
    server = startServer(Map.of());
  }

  private Main.Server startServer(Map<String, Object> overrides) throws Exception {
    Map<String, Object> m = new java.util.HashMap<>(Map.of(
        "ripple.convex.site-url", convex.siteUrl().toString(),
        "ripple.convex.secret", SECRET));
    m.putAll(overrides);
    return TestServers.start(TestServers.dataDir("auth-data"), m);
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
    convex.close();
  }

  private HttpResponse<String> plainGet(String pathAndQuery) throws Exception {
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + pathAndQuery)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private UpgradeRequest.Answer get(String pathAndQuery) throws Exception {
    return UpgradeRequest.send(server.port(), pathAndQuery);
  }

  @Test
  void aPlainRequestIsRefusedWithoutAskingConvexAboutItsToken() throws Exception {
    convex.grant("tok-w", "doc-auth", "user-1", "write");
    HttpResponse<String> r = plainGet("/parties/main/doc-auth?token=tok-w");
    assertEquals(400, r.statusCode()); // not a WebSocket upgrade
    assertEquals(0, convex.requestsTo(ConvexStandIn.VERIFY));
  }

  @Test
  void partyKitProviderWithTokenInParamsSyncs() throws Exception {
    convex.grant("tok-w", "doc-auth", "user-1", "write");
    String out = NodeProcess.run(NodeProcess.CONFORMANCE, List.of("node", "e2e/e2e.mjs", "token", Integer.toString(server.port()),
        "doc-auth", "tok-w"), NodeProcess.WORK.resolve("e2e-token.log"), 120);
    assertTrue(out.contains("\"ok\":true"), out);
    assertEquals(List.of(), convex.violations());
    long verifies = convex.requestsTo(ConvexStandIn.VERIFY);
    assertTrue(verifies >= 1 && verifies <= 2, "two providers connected at once: " + verifies);
    // the providers reconnect with the same URL and token: answered from the cache
    NodeProcess.run(NodeProcess.CONFORMANCE, List.of("node", "e2e/e2e.mjs", "token", Integer.toString(server.port()),
        "doc-auth", "tok-w"), NodeProcess.WORK.resolve("e2e-token2.log"), 120);
    assertEquals(verifies, convex.requestsTo(ConvexStandIn.VERIFY));
  }

  @Test
  void unknownTokenIs401WithJsonError() throws Exception {
    UpgradeRequest.Answer r = get("/parties/main/doc-auth?token=nope");
    assertEquals(401, r.statusCode());
    assertTrue(r.body().startsWith("{\"error\":\"unauthorized\""), r.body());
  }

  @Test
  void missingTokenIs401WithoutAskingConvex() throws Exception {
    UpgradeRequest.Answer r = get("/parties/main/doc-auth");
    assertEquals(401, r.statusCode());
    assertTrue(r.body().contains("missing_token"), r.body());
    assertEquals(0, convex.requestsTo(ConvexStandIn.VERIFY));
  }

  @Test
  void tokenWithoutAccessToTheRoomIs403() throws Exception {
    convex.grant("tok-other", "doc-other", "user-2", "write");
    UpgradeRequest.Answer r = get("/parties/main/doc-auth?token=tok-other");
    assertEquals(403, r.statusCode());
    assertTrue(r.body().startsWith("{\"error\":\"forbidden\""), r.body());
  }

  @Test
  void unreachableVerifierIs503() throws Exception {
    convex.stopListening();
    UpgradeRequest.Answer r = get("/parties/main/doc-auth?token=tok-w");
    assertEquals(503, r.statusCode());
    assertTrue(r.body().startsWith("{\"error\":\"auth_unavailable\""), r.body());
  }

  /** A full room tells only an authenticated caller that it is full: occupancy is not for strangers. */
  @Test
  void aFullRoomAnswersAnUnauthenticatedCaller401AndOnlyAnAllowedOneRoomFull() throws Exception {
    server.stop();
    server = startServer(Map.of("ripple.limits.max-connections-per-room", 1));
    convex.grant("tok-w", "doc-full", "user-1", "write");
    LinkedBlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    WebSocket first = HttpClient.newHttpClient().newWebSocketBuilder()
        .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/doc-full?token=tok-w"), new WebSocket.Listener() {
          @Override
          public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
            received.add(new byte[0]);
            w.request(1);
            return null;
          }
        }).get(10, TimeUnit.SECONDS);
    assertTrue(received.poll(10, TimeUnit.SECONDS) != null, "the first connection joined"); // the room counts it now
    UpgradeRequest.Answer missing = get("/doc-full");
    assertEquals(401, missing.statusCode(), missing.body());
    assertTrue(missing.body().contains("missing_token"), missing.body());
    UpgradeRequest.Answer unknown = get("/doc-full?token=nope");
    assertEquals(401, unknown.statusCode(), unknown.body());
    convex.grant("tok-other", "doc-other", "user-2", "write");
    assertEquals(403, get("/doc-full?token=tok-other").statusCode());
    UpgradeRequest.Answer allowed = get("/doc-full?token=tok-w");
    assertEquals(503, allowed.statusCode(), allowed.body());
    assertTrue(allowed.body().startsWith("{\"error\":\"room_full\""), allowed.body());
    first.abort();
  }

  @Test
  void readOnlyConnectionIsToldAndItsUpdateIsNotApplied() throws Exception {
    convex.grant("tok-r", "doc-ro", "reader", "read");
    LinkedBlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder()
        .header("Authorization", "Bearer tok-r")
        .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/doc-ro"), new WebSocket.Listener() {
          @Override
          public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            received.add(b);
            w.request(1);
            return null;
          }
        }).get(10, TimeUnit.SECONDS);
    assertEquals(SyncProtocol.MESSAGE_SYNC, received.poll(10, TimeUnit.SECONDS)[0]); // the server's sync step 1
    ws.sendBinary(ByteBuffer.wrap(SyncProtocol.update(HELLO)), true).get(10, TimeUnit.SECONDS);
    byte[] answer = received.poll(10, TimeUnit.SECONDS);
    assertEquals(SyncProtocol.MESSAGE_AUTH, answer[0], "a read-only client is told its update was refused");
    // a writer joining sees an empty document
    ws.sendBinary(ByteBuffer.wrap(SyncProtocol.syncStep1(new byte[] {0})), true).get(10, TimeUnit.SECONDS);
    byte[] step2 = received.poll(10, TimeUnit.SECONDS);
    SyncProtocol.SyncUpdate s2 = (SyncProtocol.SyncUpdate) SyncProtocol.decode(step2);
    assertEquals(2, s2.update().length, "empty document: no structs, no deletes");
    ws.abort();
  }
}
