package dev.ripple.collab.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.cluster.sharding.typed.HashCodeMessageExtractor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ripple.collab.Main;
import dev.ripple.collab.room.RoomProtocol;
import dev.ripple.collab.testkit.NodeProcess;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * docker-compose.yml, deploy/nginx.conf and the images, run for real: {@code docker compose -f
 * docker-compose.yml -f deploy/compose.local-images.yml up -d --build} (stand-in base images from
 * Debian's packages, the jar that {@code package} built), then through the nginx balancer on
 * 127.0.0.1: real y-websocket and y-partykit clients converge; a bad room id is a 400; one node
 * container is killed under load and its rooms are served again with nothing acknowledged lost;
 * Prometheus scrapes all three nodes and sees the clients' updates; {@code down} closes every
 * client's socket with 1012 and, after {@code up}, every document is still there (the PostgreSQL
 * volume). Runs in {@code verify} (failsafe), after the jar is built; installs and starts a Docker
 * engine if none answers and stops what it started. Logs, commands and timings: target/compose-it/.
 * {@code -Dripple.compose.skip=true} skips it; without root and without an engine it is skipped too.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ComposeClusterIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ROOMS = 12;
  private static final int CLIENTS_PER_ROOM = 3;
  private static final int INTERVAL_MS = 400;
  private static final String CONVERGE_ROOM = "doc-compose-converge";
  private static final String LOAD_PREFIX = "doc-compose-load";
  private static final String HOLD_PREFIX = "doc-compose-down";
  private static final int HOLD_ROOMS = 6;
  private static final Pattern SHARD = Pattern.compile("\"shardId\"\\s*:\\s*\"([^\"]+)\"");
  private static final Pattern OLDEST = Pattern.compile("\"oldest\"\\s*:\\s*\"akka://ripple@([a-z0-9]+):");

  private static ComposeProject compose;
  private static double updatesBeforeEdits = 0;

  @RegisterExtension
  static final TestWatcher LOGS_ON_FAILURE = new TestWatcher() {
    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
      if (compose != null) compose.saveLogs("failed-" + context.getRequiredTestMethod().getName());
    }
  };

  @BeforeAll
  static void up() throws Exception {
    Assumptions.assumeFalse(Boolean.getBoolean("ripple.compose.skip"), "ripple.compose.skip is set");
    Path jar = ComposeProject.ROOT.resolve("target/ripple-collab.jar");
    assertTrue(Files.isRegularFile(jar), jar + " is missing: this test runs in verify, after package");
    NodeProcess.ensureInstalled();
    compose = ComposeProject.prepare();
    Assumptions.assumeTrue(compose != null, "not root and no Docker engine answers: the compose test needs one");
    try {
      long t0 = System.nanoTime();
      compose.compose(Duration.ofMinutes(10), "up", "-d", "--build");
      compose.phase("up --build", t0);
      long t1 = System.nanoTime();
      compose.awaitReady(Duration.ofMinutes(5));
      compose.phase("ready", t1);
      System.out.println("[compose-it] cluster ready through the balancer on 127.0.0.1:" + compose.lbPort
          + " (Prometheus on 127.0.0.1:" + compose.prometheusPort + ")");
      updatesBeforeEdits = updatesApplied();
    } catch (Throwable e) {
      compose.saveLogs("failed-up");
      throw e;
    }
  }

  @AfterAll
  static void down() {
    if (compose != null) compose.close();
  }

  @Test
  @Order(1)
  void yWebsocketAndPartyKitClientsConvergeThroughTheBalancer() throws Exception {
    String out = NodeProcess.run(NodeProcess.CONFORMANCE, List.of("node", "e2e/e2e-cluster.mjs", "converge",
        Integer.toString(compose.lbPort), Integer.toString(compose.lbPort), CONVERGE_ROOM), log("converge"), 180);
    assertTrue(resultLine(out).path("ok").asBoolean(), out);
    // the nodes found each other over Artery's TLS transport (deploy/compose.tls.yml)
    for (String node : List.of("node1", "node2", "node3")) {
      String logs = compose.docker(Duration.ofSeconds(60), "logs", compose.container(node)).output();
      assertTrue(logs.contains("transport [Artery tls-tcp]"), node + " does not run Artery over TLS");
    }
  }

  @Test
  @Order(2)
  void aBadRoomIdIsA400ThroughTheBalancer() throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + compose.lbPort + "/parties/main/secret-room"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, r.statusCode(), r.body());
    assertEquals("bad_room_id", JSON.readTree(r.body()).path("error").asText(), r.body());
    // and a WebSocket upgrade (y-websocket's route) is refused with the same status
    try {
      http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(10))
          .buildAsync(URI.create("ws://127.0.0.1:" + compose.lbPort + "/secret-room"), new java.net.http.WebSocket.Listener() {})
          .get(20, TimeUnit.SECONDS);
      throw new AssertionError("the upgrade to a bad room id was accepted");
    } catch (ExecutionException e) {
      assertTrue(e.getCause() instanceof WebSocketHandshakeException, e.toString());
      assertEquals(400, ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode());
    }
    // the nodes' operational endpoints are not served through the balancer (Prometheus reaches them on the node network)
    for (String path : List.of("/metrics", "/ready", "/alive")) {
      assertEquals(404, ComposeProject.httpStatus(compose.lbPort, path), path + " through the balancer");
    }
  }

  @Test
  @Order(3)
  void prometheusScrapesEveryNodeAndSeesTheClientsUpdates() throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    List<String> up = List.of();
    double updates = Double.NaN;
    double members = Double.NaN;
    while (System.nanoTime() < deadline) {
      up = new ArrayList<>();
      for (JsonNode t : compose.prometheus("targets?state=active").path("data").path("activeTargets")) {
        if ("up".equals(t.path("health").asText())) up.add(t.path("labels").path("instance").asText());
      }
      updates = updatesApplied();
      members = compose.query("min(ripple_cluster_members{status=\"up\"})");
      if (up.size() == 3 && updates > updatesBeforeEdits && members == 3) break;
      Thread.sleep(2000);
    }
    assertEquals(List.of("node1:1999", "node2:1999", "node3:1999"), up.stream().sorted().toList(), "targets Prometheus scrapes");
    assertTrue(updates > updatesBeforeEdits, "sum(ripple_updates_applied_total) " + updates + ", before the clients' edits " + updatesBeforeEdits);
    assertEquals(3, members, "every node sees three members Up");
    assertEquals(3, compose.query("count(ripple_shards)"), "each node reports its shards");
    // every query of the Grafana dashboard is one this Prometheus accepts
    for (JsonNode panel : JSON.readTree(ComposeProject.ROOT.resolve("deploy/grafana-dashboard.json").toFile()).path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        String expr = target.path("expr").asText();
        JsonNode answer = compose.prometheus("query?query=" + java.net.URLEncoder.encode(expr, StandardCharsets.UTF_8));
        assertEquals("success", answer.path("status").asText(), panel.path("title").asText() + ": " + expr + " -> " + answer);
      }
    }
  }

  /** sum(ripple_updates_applied_total) over the nodes as Prometheus has it; 0 before the first scrape. */
  private static double updatesApplied() throws Exception {
    double v = compose.query("sum(ripple_updates_applied_total)");
    return Double.isNaN(v) ? 0 : v;
  }

  @Test
  @Order(4)
  void dockerKillOfANodeUnderLoadLosesNothingAcknowledgedAndItsRoomsAreServedAgain() throws Exception {
    long t0 = System.nanoTime();
    try (ClusterLoad load = ClusterLoad.start("lb=127.0.0.1:" + compose.lbPort, LOAD_PREFIX, ROOMS, CLIENTS_PER_ROOM, INTERVAL_MS, log("load"))) {
      JsonNode ready = load.await("ready", Duration.ofSeconds(180));
      Thread.sleep(3000);
      // the oldest node runs the shard coordinator: the hardest node to lose; should none of the test
      // rooms live there (12 rooms over 3 nodes: it can happen), the first node that hosts some
      String victim = oldestNode();
      List<String> victimRooms = roomsOn(victim);
      for (String n : ComposeProject.NODES) {
        if (victimRooms.isEmpty() && roomsOn(n).size() > victimRooms.size()) {
          victim = n;
          victimRooms = roomsOn(n);
        }
      }
      assertFalse(victimRooms.isEmpty(), "no test room lives on any node: " + ready);
      String container = compose.container(victim);
      long killedAt = System.currentTimeMillis();
      compose.docker(Duration.ofSeconds(60), "kill", container);
      ObjectNode killed = JSON.createObjectNode().put("cmd", "killed").put("at", killedAt);
      victimRooms.forEach(killed.putArray("rooms")::add);
      load.send(killed);

      JsonNode served = load.await("served", Duration.ofSeconds(180));
      System.out.println("[compose-it] docker kill " + victim + ": its " + victimRooms.size() + " rooms served again after (ms) "
          + served.get("ms") + "; every client back after " + served.get("allClientsBackMs") + " ms");
      Files.writeString(ComposeProject.WORK.resolve("failover.json"), served.toString());
      assertEquals(0, served.get("unserved").size(), "rooms of the killed node never served again: " + served);

      Thread.sleep(3000); // more load on the two survivors
      load.send(JSON.createObjectNode().put("cmd", "finish"));
      JsonNode result = load.await("result", Duration.ofSeconds(300));
      System.out.println("[compose-it] load result: " + result);
      assertTrue(result.get("ok").asBoolean(), result.toString());
      assertTrue(result.get("acknowledged").asInt() > ROOMS * 10, "too little acknowledged load: " + result);
      assertTrue(result.get("disconnects").asInt() > 0, "no client noticed the kill: " + result);
    }
    compose.phase("kill under load", t0);
  }

  @Test
  @Order(5)
  void downClosesEverySocketWith1012AndUpBringsBackEveryDocument() throws Exception {
    // raw sockets on rooms of their own, each room written; held open through the balancer
    Path holdLog = log("hold");
    Process hold = new ProcessBuilder("node", "e2e/e2e-cluster.mjs", "fill", Integer.toString(compose.lbPort), HOLD_PREFIX,
        Integer.toString(HOLD_ROOMS), "600")
        .directory(NodeProcess.CONFORMANCE.toFile()).redirectErrorStream(true).redirectOutput(holdLog.toFile()).start();
    try {
      awaitLine(hold, holdLog, "ready", Duration.ofSeconds(120));
      List<String> rooms = new ArrayList<>(List.of(CONVERGE_ROOM));
      IntStream.range(0, ROOMS).forEach(i -> rooms.add(LOAD_PREFIX + "-" + i));
      IntStream.range(0, HOLD_ROOMS).forEach(i -> rooms.add(HOLD_PREFIX + "-" + i));
      JsonNode before = digest(rooms);

      compose.saveLogs("before-down");
      long t0 = System.nanoTime();
      compose.compose(Duration.ofMinutes(4), "down");
      compose.phase("down", t0);
      hold.destroy(); // SIGTERM: the script reports how each socket was closed
      assertTrue(hold.waitFor(30, TimeUnit.SECONDS), "the holding script did not exit");
      JsonNode closes = resultLine(Files.readString(holdLog)).path("closes");
      Map<String, Integer> codes = new java.util.TreeMap<>();
      closes.fields().forEachRemaining(e -> codes.put(e.getKey(), e.getValue().asInt()));
      Map<String, Integer> expected = new java.util.TreeMap<>();
      IntStream.range(0, HOLD_ROOMS).forEach(i -> expected.put(HOLD_PREFIX + "-" + i, 1012));
      assertEquals(expected, codes, "close codes of the sockets held through the balancer when the nodes left");

      long t1 = System.nanoTime();
      compose.compose(Duration.ofMinutes(5), "up", "-d");
      compose.awaitReady(Duration.ofMinutes(5));
      compose.phase("up again, ready", t1);
      JsonNode after = digest(rooms);
      assertEquals(before, after, "documents before down and after up");
    } finally {
      if (hold.isAlive()) hold.destroyForcibly();
    }
  }

  /** A digest of each room's content, read by a fresh client through the balancer. */
  private static JsonNode digest(List<String> rooms) throws Exception {
    String out = NodeProcess.run(NodeProcess.CONFORMANCE, List.of("node", "e2e/e2e-cluster.mjs", "digest",
        Integer.toString(compose.lbPort), String.join(",", rooms)), log("digest"), 180);
    JsonNode result = resultLine(out);
    assertTrue(result.path("ok").asBoolean(), out);
    return result.path("digests");
  }

  /** The service name of the oldest member (it runs the shard coordinator), asked of node1's management API. */
  private static String oldestNode() throws Exception {
    for (String via : ComposeProject.NODES) {
      ComposeProject.Result r = ComposeProject.exec(List.of("docker", "exec", compose.container(via), "curl", "-fsS", "-m", "10",
          "http://localhost:8558/cluster/members"), Map.of(), Duration.ofSeconds(60), "members");
      Matcher m = OLDEST.matcher(r.output());
      if (r.exitCode() == 0 && m.find()) return m.group(1);
    }
    throw new AssertionError("no node answered GET /cluster/members with an oldest member");
  }

  /** The test rooms whose shard the node hosts, computed as the Room sharding does. */
  private static List<String> roomsOn(String node) throws Exception {
    ComposeProject.Result r = ComposeProject.exec(List.of("docker", "exec", compose.container(node), "curl", "-fsS", "-m", "10",
        "http://localhost:8558/cluster/shards/Room"), Map.of(), Duration.ofSeconds(60), "shards");
    assertEquals(0, r.exitCode(), r.output());
    Set<String> shards = new TreeSet<>();
    Matcher m = SHARD.matcher(r.output());
    while (m.find()) shards.add(m.group(1));
    int count = Main.loadConfig(Map.of("COLLAB_MODE", "cluster")).getInt("akka.cluster.sharding.number-of-shards");
    HashCodeMessageExtractor<RoomProtocol.Command> extractor = new HashCodeMessageExtractor<>(count);
    return IntStream.range(0, ROOMS).mapToObj(i -> LOAD_PREFIX + "-" + i).filter(room -> shards.contains(extractor.shardId(room))).toList();
  }

  private static Path log(String name) {
    return ComposeProject.WORK.resolve("clients").resolve(name + ".log");
  }

  /** The last JSON line of a script's output (its result). */
  private static JsonNode resultLine(String out) throws IOException {
    List<String> lines = out.lines().filter(l -> l.startsWith("{")).toList();
    if (lines.isEmpty()) throw new AssertionError("no result line in:\n" + ComposeProject.tail(out));
    return JSON.readTree(lines.get(lines.size() - 1));
  }

  private static void awaitLine(Process p, Path log, String line, Duration max) throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.readString(log).lines().anyMatch(line::equals)) return;
      if (!p.isAlive()) throw new AssertionError("the script ended before printing " + line + ":\n" + ComposeProject.tail(Files.readString(log)));
      Thread.sleep(200);
    }
    throw new AssertionError("no line " + line + " within " + max.toSeconds() + " s:\n" + ComposeProject.tail(Files.readString(log)));
  }
}
