package dev.ripple.collab.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.cluster.TestCluster.Node;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Three Ripple nodes in this JVM on one embedded PostgreSQL, formed into one cluster by Cluster
 * Bootstrap, driven by the real y-websocket and y-partykit clients through conformance/e2e/e2e-cluster.mjs.
 * Clients reach the nodes on their own HTTP ports, as they would behind a load balancer. A test
 * that stops a node leaves the cluster smaller; the next test first adds nodes back up to three.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTest {
  private static TestCluster cluster;
  private static final AtomicInteger runs = new AtomicInteger();

  @BeforeAll
  static void start() throws Exception {
    NodeProcess.ensureInstalled();
    cluster = TestCluster.start(3);
  }

  @AfterAll
  static void stop() throws Exception {
    if (cluster != null) cluster.close();
  }

  @BeforeEach
  void threeNodes() throws Exception {
    cluster.ensureSize(3);
  }

  private static String scenario(String log, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("node", "e2e/e2e-cluster.mjs"));
    cmd.addAll(List.of(args));
    return NodeProcess.run(NodeProcess.CONFORMANCE, cmd, NodeProcess.WORK.resolve("cluster-" + log + ".log"), 180);
  }

  /** A scenario that runs while the test acts on the cluster: started, and waited for until it prints "ready". */
  private static Process background(Path log, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("node", "e2e/e2e-cluster.mjs"));
    cmd.addAll(List.of(args));
    Files.createDirectories(log.toAbsolutePath().getParent());
    Process p = new ProcessBuilder(cmd).directory(NodeProcess.CONFORMANCE.toFile())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean ready = TestCluster.eventually(Duration.ofSeconds(60), () -> read(log).contains("ready") || !p.isAlive());
    if (!ready || !read(log).contains("ready")) {
      p.destroyForcibly();
      throw new AssertionError("scenario " + String.join(" ", args) + " did not get ready: " + read(log));
    }
    return p;
  }

  private static String read(Path log) {
    try {
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }

  private static String port(Node n) {
    return Integer.toString(n.httpPort());
  }

  @Test
  @Order(1)
  void clientsOnDifferentNodesConvergeOnOneRoom() throws Exception {
    List<Node> nodes = cluster.nodes();
    String out = scenario("converge", "converge", port(nodes.get(0)), port(nodes.get(1)), "doc-cluster-converge");
    assertTrue(out.contains("\"ok\":true"), out);
    out = scenario("converge-2", "converge", port(nodes.get(2)), port(nodes.get(0)), "doc-cluster-converge-2");
    assertTrue(out.contains("\"ok\":true"), out);
  }

  @Test
  @Order(2)
  void aTwoMegabyteUpdateCrossesNodes() throws Exception {
    List<Node> nodes = cluster.nodes();
    String out = scenario("large", "large", port(nodes.get(0)), port(nodes.get(1)), "doc-cluster-large-" + runs.incrementAndGet());
    assertTrue(out.contains("\"ok\":true"), out);
  }

  /**
   * The burst of the pressure tests through three nodes: providers of each room spread over the
   * nodes (so most updates cross nodes to their room), each typing in a tight loop, plus a raw client
   * flooding from the moment it connects. Every room converges, a fresh client reads every edit, and no
   * node dropped a client message (Artery's send queues, dead letters: DropWatch counts each).
   */
  @Test
  @Order(2)
  void aBurstSpreadOverTheNodesLosesNothing() throws Exception {
    List<Node> nodes = cluster.nodes();
    String ports = nodes.stream().map(n -> Integer.toString(n.httpPort())).collect(java.util.stream.Collectors.joining(","));
    long droppedBefore = nodes.stream().mapToLong(n -> dev.ripple.collab.metrics.Metrics.get(n.server().system()).clientMessagesDropped.sum()).sum();
    String out = NodeProcess.run(NodeProcess.CONFORMANCE, List.of("node", "pressure/pressure.mjs", "burst", ports, "4", "12", "200", "5000"),
        NodeProcess.WORK.resolve("cluster-burst.log"), 400);
    assertTrue(out.contains("\"ok\":true"), out.substring(Math.max(0, out.length() - 3000)));
    long droppedAfter = nodes.stream().mapToLong(n -> dev.ripple.collab.metrics.Metrics.get(n.server().system()).clientMessagesDropped.sum()).sum();
    assertEquals(droppedBefore, droppedAfter, "client messages dropped between nodes");
  }

  /** The document API from any node: a room is written through one node and read through the others, whichever owns it. */
  @Test
  @Order(2)
  void theDocumentApiAnswersFromEveryNodeWhoeverOwnsTheRoom() throws Exception {
    List<Node> nodes = cluster.nodes();
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    byte[] hello = java.util.Base64.getDecoder().decode("AQEBAAQBBHRleHQFaGVsbG8A"); // client 1 types "hello" into text "text"
    for (int r = 0; r < 3; r++) {
      String room = "doc-api-cluster-" + r;
      var post = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + nodes.get(r).httpPort()
              + "/api/rooms/" + room + "/update")).POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(hello)).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertEquals(200, post.statusCode(), post.body());
      for (Node n : nodes) {
        var json = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + n.httpPort()
            + "/api/rooms/" + room + "/json?text=text")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals("{\"text\":{\"text\":\"hello\"}}", json.body(), "through " + n);
      }
    }
  }

  @Test
  @Order(3)
  void aLeavingNodeHandsItsRoomsOverWithTheirState() throws Exception {
    List<Node> nodes = cluster.nodes();
    Node writer = nodes.get(0);
    String prefix = "doc-leave-" + runs.incrementAndGet();
    int count = 12;
    List<String> rooms = IntStream.range(0, count).mapToObj(i -> prefix + "-" + i).toList();
    // one raw socket per room through the writer keeps every room alive (not passivated) on its node
    Path holdLog = NodeProcess.WORK.resolve("cluster-hold.log");
    Process hold = background(holdLog, "fill", port(writer), prefix, Integer.toString(count), "120");
    try {
      Map<Node, Set<String>> live = cluster.liveRooms(rooms);
      Node leaving = live.entrySet().stream()
          .filter(e -> e.getKey() != writer)
          .max(Comparator.comparingInt(e -> e.getValue().size()))
          .orElseThrow().getKey();
      assertFalse(live.get(leaving).isEmpty(), "no room landed on a node other than the writer's: " + live);
      Node reader = nodes.stream().filter(n -> n != writer && n != leaving).findFirst().orElseThrow();

      cluster.stop(leaving);

      // the handed-over rooms run again on the remaining nodes without any new client (remember-entities,
      // and the Leave of their closed sessions also reaches them at their new home: raw sockets do not
      // reconnect); each passivates about 2 s later, so collect what is seen running over a few polls
      Set<String> moved = live.get(leaving);
      Set<String> seen = new java.util.TreeSet<>();
      TestCluster.eventually(Duration.ofSeconds(15), () -> {
        try {
          cluster.liveRooms(rooms).values().forEach(seen::addAll);
        } catch (Exception e) {
          // a region busy with the handover answers next time
        }
        return seen.containsAll(moved);
      });
      assertTrue(seen.containsAll(moved), "rooms " + moved + " of " + leaving + " were not started again; seen running: " + seen);

      String out = scenario("check", "check", port(reader), prefix, Integer.toString(count));
      assertTrue(out.contains("\"ok\":true"), "rooms of " + leaving + " " + moved + ": " + out);
    } finally {
      hold.destroy();
      hold.waitFor(10, TimeUnit.SECONDS);
      hold.destroyForcibly();
    }
  }

  @Test
  @Order(4)
  void sessionsOfAMovedRoomFollowItWithoutClosingAndLoseNothing() throws Exception {
    List<Node> nodes = cluster.nodes();
    Node sessions = nodes.get(0);
    Node other = nodes.get(1);
    // the room should live on a third node, preferably the newest (a rebalance after a join only moves
    // shards to it, never away); a node that just joined may get its first shards only after a moment
    Node host = null;
    String room = null;
    for (int attempt = 0; attempt < 10 && room == null; attempt++) {
      String warm = "doc-warm-" + runs.incrementAndGet();
      scenario("warm", "fill", port(sessions), warm, "9");
      Map<akka.actor.Address, Set<String>> byMember = TestCluster.shardsByMember(sessions);
      for (int n = nodes.size() - 1; n >= 2 && room == null; n--) {
        Set<String> shards = byMember.getOrDefault(nodes.get(n).address(), Set.of());
        for (int k = 0; k < 1_000_000 && room == null && !shards.isEmpty(); k++) {
          String candidate = "doc-moved-" + runs.get() + "-" + k;
          if (shards.contains(TestCluster.shardOf(sessions, candidate))) {
            room = candidate;
            host = nodes.get(n);
          }
        }
      }
      if (room == null) Thread.sleep(1000);
    }
    assertTrue(room != null, "no shard allocated on any node but " + sessions + " and " + other);
    Node hostNode = host;

    Path log = NodeProcess.WORK.resolve("cluster-moved.log");
    Process client = background(log, "moved", port(sessions), port(other), room);
    try {
      Set<String> onHost = cluster.liveRooms(Set.of(room)).get(hostNode);
      assertEquals(Set.of(room), onHost, "room " + room + " is not running on " + hostNode);

      cluster.stop(hostNode); // graceful: the room is handed off while a client types

      client.getOutputStream().write("moved\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      client.getOutputStream().flush();
      assertTrue(client.waitFor(120, TimeUnit.SECONDS), "the client scenario did not finish: " + read(log));
      String out = read(log);
      assertEquals(0, client.exitValue(), "sessions on " + sessions + " did not follow the room: " + out);
    } finally {
      client.destroyForcibly();
    }
  }

  @Test
  @Order(5)
  void anAddedNodeTakesOverShardsAndServesRooms() throws Exception {
    List<Node> nodes = cluster.nodes();
    String prefix = "doc-grow-" + runs.incrementAndGet();
    scenario("grow-fill", "fill", port(nodes.get(0)), prefix, "16");

    Node added = cluster.addNode();

    for (Node n : cluster.nodes()) {
      assertTrue(TestCluster.eventually(Duration.ofSeconds(30), () -> TestCluster.upMembers(n).size() == 4),
          n + " sees " + TestCluster.upMembers(n));
    }
    // the rebalance (every 10 s by default) hands the newcomer some of the existing shards
    assertTrue(TestCluster.eventually(Duration.ofSeconds(45), () -> {
      try {
        return !TestCluster.shardsByMember(added).getOrDefault(added.address(), Set.of()).isEmpty();
      } catch (Exception e) {
        return false;
      }
    }), "no shard moved to " + added + ": " + TestCluster.shardsByMember(added));

    String out = scenario("grow-check", "check", port(added), prefix, "16");
    assertTrue(out.contains("\"ok\":true"), out);
    out = scenario("grow-converge", "converge", port(added), port(nodes.get(1)), "doc-cluster-grown");
    assertTrue(out.contains("\"ok\":true"), out);
  }
}
