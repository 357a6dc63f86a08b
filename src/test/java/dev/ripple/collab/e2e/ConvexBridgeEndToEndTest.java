package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import dev.ripple.collab.Main;
import dev.ripple.collab.backup.BackupException;
import dev.ripple.collab.backup.ConvexBackup;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.testkit.Documents;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.TestServers;
import dev.ripple.collab.testkit.UpgradeRequest;
import dev.ripple.collab.yjs.YDoc;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The real server against the real Convex code of {@code convex/} (its HTTP actions, schema, file
 * storage and token table), run by convex-test behind {@code convex/bridge.ts} on 127.0.0.1, with
 * the real npm clients: a save after the last client leaves, a cold start from the stored
 * snapshot with no local state, and tokens verified by the Convex code.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ConvexBridgeEndToEndTest {
  static final String SECRET = "bridge-e2e-secret";
  static final Path CONVEX = Path.of(System.getProperty("ripple.convex.dir", "convex"));
  static final Path BRIDGE_LOG = NodeProcess.WORK.toAbsolutePath().resolve("convex-bridge.log");
  private static final Pattern LISTENING = Pattern.compile("listening (\\d+)");
  private static final ObjectMapper JSON = new ObjectMapper();
  // yjs 13.6.33: client 1 types "hello" into the root text "text"
  private static final byte[] HELLO = Base64.getDecoder().decode("AQEBAAQBBHRleHQFaGVsbG8A");

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  private Process bridge;
  private URI bridgeUrl;
  private Main.Server server;

  @BeforeAll
  static void install() throws Exception {
    NodeProcess.ensureInstalled();
    ensureConvexInstalled();
    Files.deleteIfExists(BRIDGE_LOG); // the bridges of this class append their stderr here
  }

  /** {@code npm ci} in convex/ unless its packages are already there (as NodeProcess does for conformance/). */
  static synchronized void ensureConvexInstalled() throws IOException, InterruptedException {
    Path lock = CONVEX.resolve("package-lock.json");
    Path stamp = CONVEX.resolve("node_modules").resolve(".package-lock.json");
    if (!Files.exists(stamp) || Files.getLastModifiedTime(stamp).compareTo(Files.getLastModifiedTime(lock)) < 0) {
      NodeProcess.run(CONVEX, List.of("npm", "ci", "--no-audit", "--no-fund"), NodeProcess.WORK.resolve("convex-npm-ci.log"), 600);
    }
  }

  @BeforeEach
  void start() throws Exception {
    startBridge();
    grant(Map.of("token", "tok-w", "userId", "writer", "access", "write", "roomPrefixes", List.of("doc-bridge")));
    grant(Map.of("token", "tok-r", "userId", "reader", "access", "read", "rooms", List.of("doc-bridge-cold")));
    server = Main.start(config(freshDataDir()));
  }

  @AfterEach
  void stop() throws Exception {
    try {
      if (server != null) server.stop();
    } finally {
      server = null;
      stopBridge();
    }
  }

  /** Starts {@code node --import tsx bridge.ts} and waits (bounded) for its {@code listening <port>} line. */
  private void startBridge() throws Exception {
    Path log = BRIDGE_LOG;
    Files.createDirectories(log.getParent());
    ProcessBuilder pb = new ProcessBuilder("node", "--import", "tsx", "bridge.ts").directory(CONVEX.toFile())
        .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().put("PARTYKIT_SECRET", SECRET);
    pb.environment().put("BRIDGE_LIFETIME_SECONDS", "600"); // it never outlives a run by much, whatever happens here
    try {
      bridge = pb.start();
    } catch (IOException e) {
      throw new AssertionError("cannot start node (Node 20 and npm are required by the test suite): " + e.getMessage(), e);
    }
    InputStream stdout = bridge.getInputStream();
    CompletableFuture<String> firstLine = CompletableFuture.supplyAsync(() -> {
      try {
        return new BufferedReader(new InputStreamReader(stdout, StandardCharsets.UTF_8)).readLine();
      } catch (IOException e) {
        return null;
      }
    });
    String line;
    try {
      line = firstLine.get(60, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      stopBridge();
      throw new AssertionError("the bridge did not say 'listening <port>' within 60 s; log: " + log);
    }
    Matcher m = line == null ? null : LISTENING.matcher(line);
    if (m == null || !m.matches()) {
      stopBridge();
      throw new AssertionError("the bridge said " + line + " instead of 'listening <port>'; log: " + log);
    }
    bridgeUrl = URI.create("http://127.0.0.1:" + m.group(1));
  }

  /** Closes the bridge's stdin (it exits by itself), then ends it by its process id if it has not. */
  private void stopBridge() throws InterruptedException {
    if (bridge == null) return;
    try {
      bridge.getOutputStream().close();
    } catch (IOException ignored) {
      // already gone
    }
    if (!bridge.waitFor(5, TimeUnit.SECONDS)) {
      bridge.destroy();
      if (!bridge.waitFor(5, TimeUnit.SECONDS)) {
        bridge.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    }
    bridge = null;
  }

  private static Path freshDataDir() throws IOException {
    return TestServers.dataDir("bridge-data");
  }

  private Config config(Path data) {
    return TestServers.config(data, Map.of(
        "ripple.convex.site-url", bridgeUrl.toString(),
        "ripple.convex.secret", SECRET,
        "ripple.alarms.debounce", "2s"));
  }

  /** Inserts a row in the Convex code's collabTokens table through the bridge's admin endpoint. */
  private void grant(Map<String, Object> token) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(bridgeUrl.resolve("/__admin/token"))
        .timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + SECRET).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(token))).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
  }

  /** The snapshot the Convex code has stored for the room (read from its file storage), if any. */
  private Optional<byte[]> stored(String roomId) {
    try {
      HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(
              bridgeUrl.resolve("/__admin/snapshot?roomId=" + URLEncoder.encode(roomId, StandardCharsets.UTF_8)))
          .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + SECRET).build(), HttpResponse.BodyHandlers.ofByteArray());
      if (r.statusCode() == 404) return Optional.empty();
      assertEquals(200, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
      return Optional.of(r.body());
    } catch (IOException e) {
      throw new AssertionError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Files in the Convex code's storage and its snapshot rows. */
  private JsonNode storageState() throws Exception {
    HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(bridgeUrl.resolve("/__admin/state"))
        .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + SECRET).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, r.statusCode());
    return JSON.readTree(r.body());
  }

  /** Polls until the stored snapshot decodes to {@code expected}; returns what it last decoded to. */
  private String awaitStoredText(String roomId, String expected, Duration max) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    String last = null;
    while (true) {
      last = stored(roomId).map(ConvexBridgeEndToEndTest::text).orElse(null);
      if (expected.equals(last) || System.nanoTime() > deadline) return last;
      Thread.sleep(200);
    }
  }

  private String node(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("node", "e2e/e2e.mjs"));
    cmd.addAll(List.of(args));
    return NodeProcess.run(NodeProcess.CONFORMANCE, cmd, NodeProcess.WORK.resolve("convex-bridge-" + args[0] + ".log"), 120);
  }

  /**
   * Connects a plain WebSocket with the token, sends one update, asks for the whole document (sync
   * step 1 with an empty state vector), and leaves once the answer came: returns the answer's text.
   * Leaving is a close frame, then the TCP connection is dropped.
   */
  private String editOnce(String roomId, String token, byte[] update) throws Exception {
    LinkedBlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    CompletableFuture<Integer> closed = new CompletableFuture<>();
    WebSocket ws = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10))
        .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/parties/main/" + roomId + "?token=" + token),
            new WebSocket.Listener() {
              private final java.io.ByteArrayOutputStream parts = new java.io.ByteArrayOutputStream();

              @Override
              public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
                byte[] b = new byte[data.remaining()];
                data.get(b);
                parts.writeBytes(b);
                if (last) {
                  received.add(parts.toByteArray());
                  parts.reset();
                }
                w.request(1);
                return null;
              }

              @Override
              public CompletionStage<?> onClose(WebSocket w, int statusCode, String reason) {
                closed.complete(statusCode);
                return null;
              }

              @Override
              public void onError(WebSocket w, Throwable error) {
                closed.completeExceptionally(error);
              }
            }).get(15, TimeUnit.SECONDS);
    try {
      ws.sendBinary(ByteBuffer.wrap(SyncProtocol.update(update)), true).get(10, TimeUnit.SECONDS);
      ws.sendBinary(ByteBuffer.wrap(SyncProtocol.syncStep1(new byte[] {0})), true).get(10, TimeUnit.SECONDS);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
      while (System.nanoTime() < deadline) {
        byte[] frame = received.poll(200, TimeUnit.MILLISECONDS);
        if (frame != null && frame[0] == SyncProtocol.MESSAGE_SYNC
            && SyncProtocol.decode(frame) instanceof SyncProtocol.SyncUpdate s && s.step2()) {
          return text(s.update());
        }
      }
      throw new AssertionError("no sync step 2 from the server within 15 s");
    } finally {
      try {
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(10, TimeUnit.SECONDS);
        closed.get(3, TimeUnit.SECONDS);
      } catch (TimeoutException | ExecutionException e) {
        // seen with this server: a client's close frame is not answered and the session ends only
        // when the TCP connection does, so drop it, as a closed tab would
      }
      ws.abort();
    }
  }

  private static String text(byte[] state) {
    return Documents.text(state);
  }

  @Test
  void lastClientLeavingSavesTheDocumentInConvexFileStorage() throws Exception {
    String port = Integer.toString(server.port());
    node("write", port, "doc-bridge-save", "saved by convex", "tok-w");
    assertEquals("saved by convex", awaitStoredText("doc-bridge-save", "saved by convex", Duration.ofSeconds(15)),
        "the snapshot stored by the Convex code");

    // another client edits again: the new snapshot replaces the old one, whose file is deleted
    YDoc expected = new YDoc();
    expected.apply(stored("doc-bridge-save").orElseThrow());
    expected.apply(HELLO);
    String both = text(expected.encodeStateAsUpdate());
    assertTrue(both.contains("hello") && both.contains("saved by convex"), both);
    assertEquals(both, editOnce("doc-bridge-save", "tok-w", HELLO), "the server's document after the edit");
    assertEquals(both, awaitStoredText("doc-bridge-save", both, Duration.ofSeconds(15)));
    JsonNode state = storageState();
    assertEquals(1, state.get("files").asInt(), state.toString());
    assertEquals(1, state.get("snapshots").size(), state.toString());
    assertEquals("doc-bridge-save", state.get("snapshots").get(0).get("roomId").asText());
  }

  @Test
  void aRestartWithNoLocalStateLoadsTheRoomFromConvex() throws Exception {
    node("write", Integer.toString(server.port()), "doc-bridge-cold", "cold start text", "tok-w");
    assertEquals("cold start text", awaitStoredText("doc-bridge-cold", "cold start text", Duration.ofSeconds(15)));

    server.stop();
    server = null;
    server = Main.start(config(freshDataDir())); // nothing local: the room can only come from Convex

    // a read-only token (access "read" from the Convex code) is enough to read
    String out = node("read", Integer.toString(server.port()), "doc-bridge-cold", "cold start text", "tok-r");
    assertTrue(out.contains("\"ok\":true"), out);
  }

  @Test
  void tokensAreCheckedByTheConvexCodeBeforeTheUpgrade() throws Exception {
    UpgradeRequest.Answer bad = UpgradeRequest.send(server.port(), "/parties/main/doc-bridge-auth?token=bad");
    assertEquals(401, bad.statusCode(), bad.body());
    assertTrue(bad.body().startsWith("{\"error\":\"unauthorized\""), bad.body());

    UpgradeRequest.Answer otherRoom = UpgradeRequest.send(server.port(), "/parties/main/doc-bridge-auth?token=tok-r"); // tok-r only reads doc-bridge-cold
    assertEquals(403, otherRoom.statusCode(), otherRoom.body());
    assertTrue(otherRoom.body().startsWith("{\"error\":\"forbidden\""), otherRoom.body());

    assertEquals(Optional.empty(), stored("doc-bridge-auth"));
  }

  @Test
  void theConvexCodeAnswersAnUnknownRoomAsANewDocumentAndAMissingRouteAsAFailedLoad() throws Exception {
    Duration timeout = Duration.ofSeconds(10);
    ConvexBackup deployed = new ConvexBackup(
        bridgeUrl, SECRET, timeout, ConvexBackup.defaultClient(timeout));
    assertEquals(Optional.empty(), deployed.load("doc-bridge-never-saved").toCompletableFuture().get(20, TimeUnit.SECONDS));

    // a site URL under which no route is deployed: Convex's own "No matching routes found"
    ConvexBackup undeployed = new ConvexBackup(
        URI.create(bridgeUrl + "/elsewhere"), SECRET, timeout, ConvexBackup.defaultClient(timeout));
    ExecutionException e = assertThrows(
        ExecutionException.class,
        () -> undeployed.load("doc-bridge-never-saved").toCompletableFuture().get(20, TimeUnit.SECONDS));
    BackupException failed =
        assertInstanceOf(BackupException.class, e.getCause());
    assertEquals(404, failed.status());
    assertTrue(failed.getMessage().contains("No matching routes found"), failed.getMessage());
  }
}
