package dev.ripple.collab.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.cluster.sharding.typed.HashCodeMessageExtractor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ripple.collab.Main;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.cluster.ProcessCluster.Node;
import dev.ripple.collab.room.RoomProtocol;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Three server JVMs on 127.0.0.1 forming one cluster on an embedded PostgreSQL, under load from
 * real yjs clients (y-websocket and y-partykit providers in conformance/e2e/cluster-load.mjs, behind
 * that script's load balancer) editing many rooms. One node is killed with SIGKILL mid-load; later
 * every node is restarted in turn. Each time, every client must converge and a fresh client must
 * read every update any client wrote, acknowledged ones included. The time until the killed node's
 * rooms are served again is measured and printed (and written to target/cluster-process/failover.json);
 * it is a measurement, not an assertion: these machines are shared and noisy.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterProcessTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int ROOMS = 24;
  private static final int CLIENTS_PER_ROOM = 3;
  private static final int INTERVAL_MS = 400;

  private static ProcessCluster cluster;

  @BeforeAll
  static void start() throws Exception {
    NodeProcess.ensureInstalled();
    // a room passivates 2 s after its last user (instead of 7 s) so rooms also move while saving
    cluster = ProcessCluster.start("process", 3, ProcessCluster.properties("ripple.alarms.debounce", "2s"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (cluster != null) cluster.close();
  }

  @Test
  @Order(1)
  void killNineOfOneNodeUnderLoadLosesNothingAndItsRoomsAreServedAgain() throws Exception {
    try (ClusterLoad load = load(cluster, "doc-failover")) {
      JsonNode ready = load.await("ready", Duration.ofSeconds(120));
      Thread.sleep(3000);
      // the oldest node: it also runs the shard coordinator, the hardest node to lose
      Node victim = oldest();
      List<String> victimRooms = roomsOn(victim, load.rooms());
      assertFalse(victimRooms.isEmpty(), "no test room lives on " + victim + ": " + ready);
      long killedAt = cluster.kill(victim);
      ObjectNode killed = JSON.createObjectNode().put("cmd", "killed").put("at", killedAt);
      victimRooms.forEach(killed.putArray("rooms")::add);
      load.send(killed);

      JsonNode served = load.await("served", Duration.ofSeconds(150));
      System.out.println("failover: " + victimRooms.size() + " rooms lived on the killed " + victim
          + "; served again after (ms since SIGKILL) " + served.get("ms") + "; every client connected and synced again after "
          + served.get("allClientsBackMs") + " ms");
      Files.writeString(cluster.work().getParent().resolve("failover.json"), served.toString());
      assertEquals(0, served.get("unserved").size(), "rooms of the killed node never served again: " + served);

      Thread.sleep(3000); // more load on the two survivors
      load.send(JSON.createObjectNode().put("cmd", "finish"));
      JsonNode result = load.await("result", Duration.ofSeconds(200));
      assertTrue(result.get("ok").asBoolean(), result.toString());
      assertTrue(result.get("acknowledged").asInt() > ROOMS * 10, "too little acknowledged load: " + result);
      assertTrue(result.get("disconnects").asInt() > 0, "no client noticed the kill: " + result);
      System.out.println("failover result: " + result);
    }
    // the killed node comes back on the same ports and joins again
    cluster.launch(victim());
    cluster.awaitReady(victim(), Duration.ofSeconds(120));
  }

  @Test
  @Order(2)
  void rollingRestartOfEveryNodeUnderLoadLosesNothing() throws Exception {
    for (Node n : cluster.nodes()) cluster.awaitReady(n, Duration.ofSeconds(120));
    try (ClusterLoad load = load(cluster, "doc-rolling")) {
      load.await("ready", Duration.ofSeconds(120));
      for (Node n : cluster.nodes()) {
        Thread.sleep(2000);
        long t0 = System.nanoTime();
        cluster.stop(n, Duration.ofSeconds(60)); // SIGTERM: graceful leave, rooms handed over
        long stopped = System.nanoTime();
        cluster.launch(n);
        cluster.awaitReady(n, Duration.ofSeconds(120));
        System.out.printf("rolling restart: %s left in %d ms, was ready again %d ms later%n", n,
            TimeUnit.NANOSECONDS.toMillis(stopped - t0), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopped));
      }
      Thread.sleep(2000);
      load.send(JSON.createObjectNode().put("cmd", "finish"));
      JsonNode result = load.await("result", Duration.ofSeconds(200));
      assertTrue(result.get("ok").asBoolean(), result.toString());
      assertTrue(result.get("acknowledged").asInt() > ROOMS * 10, "too little acknowledged load: " + result);
      assertTrue(result.get("disconnects").asInt() >= ROOMS, "the restarts did not move the clients: " + result);
      System.out.println("rolling restart result: " + result);
    }
  }

  private static Node victim;

  private static Node victim() {
    return victim;
  }

  /** The oldest member (the one running the cluster singletons), from GET /cluster/members. */
  private static Node oldest() throws Exception {
    Node via = cluster.nodes().get(1);
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + via.managementPort + "/cluster/members")).timeout(Duration.ofSeconds(5)).build(),
        HttpResponse.BodyHandlers.ofString());
    String oldest = JSON.readTree(r.body()).get("oldest").asText(); // akka://ripple@127.0.0.1:<artery port>
    for (Node n : cluster.nodes()) {
      if (oldest.endsWith(":" + n.remotePort)) {
        victim = n;
        return n;
      }
    }
    throw new AssertionError("no node is the oldest member " + oldest + ": " + r.body());
  }

  /** Those of {@code rooms} whose shard the node hosts, computed as the Room sharding does. */
  private static List<String> roomsOn(Node n, List<String> rooms) throws Exception {
    Set<String> shards = cluster.shardsOf(n);
    int count = Main.loadConfig(Map.of("COLLAB_MODE", "cluster")).getInt("akka.cluster.sharding.number-of-shards");
    HashCodeMessageExtractor<RoomProtocol.Command> extractor = new HashCodeMessageExtractor<>(count);
    return rooms.stream().filter(r -> shards.contains(extractor.shardId(r))).toList();
  }

  private static ClusterLoad load(ProcessCluster cluster, String prefix) throws IOException {
    return ClusterLoad.start(cluster.httpPorts(), prefix, ROOMS, CLIENTS_PER_ROOM, INTERVAL_MS, cluster.work().resolve("load-" + prefix + ".log"));
  }
}
