package dev.ripple.collab.e2e;

import static dev.ripple.collab.testkit.PrometheusText.sample;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.Main;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.TestServers;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The server as users run it (in this JVM, on 127.0.0.1, with H2 in a temporary directory),
 * driven by the real npm clients through conformance/e2e/e2e.mjs.
 */
class ServerEndToEndTest {
  private Path dataDir;
  private Main.Server server;

  @BeforeAll
  static void install() throws Exception {
    NodeProcess.ensureInstalled();
  }

  @BeforeEach
  void start() throws Exception {
    dataDir = TestServers.dataDir("e2e-data");
    server = Main.start(TestServers.config(dataDir));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
  }

  private String scenario(String name, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("node", "e2e/e2e.mjs", name, Integer.toString(server.port())));
    cmd.addAll(List.of(args));
    return NodeProcess.run(NodeProcess.CONFORMANCE, cmd, NodeProcess.WORK.resolve("e2e-" + name + ".log"), 180);
  }

  @Test
  void partyKitAndWebsocketProvidersConvergeOnOneRoom() throws Exception {
    assertTrue(scenario("converge").contains("\"ok\":true"));
  }

  @Test
  void documentSurvivesServerRestart() throws Exception {
    scenario("write", "doc-restart", "written before the restart ✓");
    server.stop();
    server = Main.start(TestServers.config(dataDir));
    assertTrue(scenario("read", "doc-restart", "written before the restart ✓").contains("\"ok\":true"));
  }

  @Test
  void lateJoinerReceivesEverything() throws Exception {
    scenario("write", "doc-late", "early words");
    assertTrue(scenario("read", "doc-late", "early words").contains("\"ok\":true"));
  }

  @Test
  void twoMegabyteUpdateArrivesThroughPartyKitBatches() throws Exception {
    assertTrue(scenario("large").contains("\"ok\":true"));
  }

  @Test
  void garbageMessageClosesOnlyItsOwnConnection() throws Exception {
    assertTrue(scenario("garbage").contains("\"ok\":true"));
  }

  @Test
  void loneClientStaysConnectedPastSixtySeconds() throws Exception {
    assertTrue(scenario("lone", "65").contains("\"disconnects\":0"));
  }

  @Test
  void shutdownClosesConnectionsWith1012() throws Exception {
    java.nio.file.Path log = NodeProcess.WORK.resolve("e2e-shutdown.log");
    Process node = new ProcessBuilder("node", "e2e/e2e.mjs", "shutdown", Integer.toString(server.port()))
        .directory(NodeProcess.CONFORMANCE.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
      while (!Files.readString(log).contains("connected") && System.nanoTime() < deadline && node.isAlive()) Thread.sleep(50);
      assertTrue(Files.readString(log).contains("connected"), "client never connected: " + Files.readString(log));
      server.stop();
      server = null;
      assertTrue(node.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "client did not see the close");
      String out = Files.readString(log);
      assertEquals(0, node.exitValue(), out);
      assertTrue(out.contains("\"code\":1012"), out);
    } finally {
      node.destroyForcibly();
    }
  }

  @Test
  void aliveAndReadyAnswerOkWhenTheNodeIsUpAndTheDatabaseAnswers() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    for (String path : List.of("/alive", "/ready")) {
      HttpResponse<String> r = null;
      for (int i = 0; i < 50; i++) { // the cluster of one needs a moment to be Up
        r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(),
            HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) break;
        Thread.sleep(100);
      }
      assertEquals(200, r.statusCode(), path + ": " + r.body());
    }
  }

  @Test
  void metricsCountUpdatesConnectionsAndLatencyInPrometheusFormat() throws Exception {
    scenario("write", "doc-metrics", "counted");
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/plain"), r.headers().toString());
    String body = r.body();
    assertEquals(1, sample(body, "ripple_updates_applied_total"), body);
    assertEquals(1, sample(body, "ripple_journal_write_seconds_count"), body);
    assertEquals(1, sample(body, "ripple_fanout_seconds_count"), body);
    assertTrue(body.contains("# TYPE ripple_connections gauge"), body);
    assertEquals(1, sample(body, "ripple_rooms_active"), body);
    // the cluster of one, the shard of the room, and the JVM and process metrics of the Prometheus client
    assertEquals(1, sample(body, "ripple_cluster_members{status=\"up\"}"), body);
    assertEquals(1, sample(body, "ripple_shards"), body);
    assertTrue(sample(body, "process_cpu_seconds_total") > 0, body);
    assertTrue(sample(body, "jvm_threads_current") > 0, body);
  }

  @Test
  void aClientsCloseFrameIsAnsweredAndItsConnectionLeavesTheRoom() throws Exception {
    java.util.concurrent.CompletableFuture<Integer> closed = new java.util.concurrent.CompletableFuture<>();
    java.net.http.WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder()
        .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/doc-close"), new java.net.http.WebSocket.Listener() {
          @Override
          public java.util.concurrent.CompletionStage<?> onClose(java.net.http.WebSocket w, int code, String reason) {
            closed.complete(code);
            return null;
          }
        }).get(10, java.util.concurrent.TimeUnit.SECONDS);
    ws.sendClose(1000, "bye").get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertEquals(1000, closed.get(5, java.util.concurrent.TimeUnit.SECONDS), "the server answers the close frame");
    String metrics = "";
    for (int i = 0; i < 50 && sample(metrics, "ripple_connections") != 0; i++) {
      Thread.sleep(100);
      metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
    }
    assertEquals(0, sample(metrics, "ripple_connections"), metrics);
  }

  @Test
  void badRoomIdIsRejectedBeforeUpgradeWithJsonError() throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/parties/main/secret-room")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(400, r.statusCode());
    assertTrue(r.body().startsWith("{\"error\":\"bad_room_id\""), r.body());
    assertEquals("application/json", r.headers().firstValue("content-type").orElse(""));
  }
}
