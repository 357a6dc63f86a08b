package dev.ripple.collab.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.node.WarmupTypist;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Three node processes on one PostgreSQL; one of them reaches it through a proxy that the test cuts.
 * That node says it is not ready at once and, once the database has failed for a while and the
 * others still reach it, leaves the cluster: its rooms are served by the others, and take writes.
 */
class DatabaseLossProcessTest {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
  private static final int ROOMS = 12;

  private static HttpResponse<String> post(int port, String room, byte[] update) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/rooms/" + room + "/update"))
        .timeout(Duration.ofSeconds(15)).header("Content-Type", "application/octet-stream")
        .POST(HttpRequest.BodyPublishers.ofByteArray(update)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String text(int port, String room) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/rooms/" + room + "/json?text=t"))
        .timeout(Duration.ofSeconds(15)).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  private static int status(int port, String path) {
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  @Test
  void aNodeThatLosesThePostgresqlTheOthersReachGivesItsRoomsUpAndTheyTakeWritesElsewhere() throws Exception {
    try (ProcessCluster cluster = ProcessCluster.start("database-loss", 3,
        ProcessCluster.properties("ripple.cluster.database-lost-after", "6s"), Set.of("node3"))) {
      ProcessCluster.Node entry = cluster.nodes().get(0);
      ProcessCluster.Node lost = cluster.nodes().get(2);
      List<String> rooms = new ArrayList<>();
      for (int i = 0; i < ROOMS; i++) {
        String room = "doc-db" + i;
        rooms.add(room);
        HttpResponse<String> r = post(entry.httpPort, room, WarmupTypist.typed(100 + i, 0, "a"));
        assertTrue(r.statusCode() == 200, room + ": " + r.statusCode() + " " + r.body());
      }
      assertFalse(cluster.shardsOf(lost).isEmpty(), "none of the rooms lives on the node that will lose its database");

      cluster.cutDatabase(lost);
      long cut = System.nanoTime();
      boolean notReady = false;
      while (!notReady && System.nanoTime() - cut < TimeUnit.SECONDS.toNanos(30)) {
        notReady = status(lost.httpPort, "/ready") != 200;
        Thread.sleep(250);
      }
      assertTrue(notReady, "the node without its database still said it was ready");
      assertTrue(lost.process.waitFor(90, TimeUnit.SECONDS), "the node without its database did not give its rooms up");

      // every room takes a write again, through a node that reaches the database, and keeps what it had
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      List<String> pending = new ArrayList<>(rooms);
      while (!pending.isEmpty() && System.nanoTime() < deadline) {
        for (String room : new ArrayList<>(pending)) {
          int i = rooms.indexOf(room);
          HttpResponse<String> r;
          try {
            r = post(entry.httpPort, room, WarmupTypist.typed(100 + i, 1, "b"));
          } catch (java.io.IOException e) {
            continue;
          }
          if (r.statusCode() == 200) pending.remove(room);
        }
        if (!pending.isEmpty()) Thread.sleep(1000);
      }
      assertTrue(pending.isEmpty(), "rooms that take no write after the node left: " + pending);
      for (String room : rooms) {
        String t = text(entry.httpPort, room);
        assertTrue(t.contains("\"ab\""), room + ": " + t);
      }
    }
  }
}
