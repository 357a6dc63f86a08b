package dev.ripple.collab.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.node.WarmupTypist;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Artery over TLS (COLLAB_ARTERY_TRANSPORT=tls-tcp, a key store made by scripts/artery-tls.sh): three
 * node processes holding the key form the cluster and serve a room across nodes; a process with
 * another key cannot join.
 */
class ArteryTlsProcessTest {
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

  /** Runs scripts/artery-tls.sh into {@code dir}; returns the environment a node needs for it. */
  private static Map<String, String> keyStore(Path dir) throws Exception {
    Process p = new ProcessBuilder("bash", "scripts/artery-tls.sh", dir.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, out);
    String password = Files.readString(dir.resolve("password"));
    String store = dir.resolve("artery.p12").toString();
    return Map.of("COLLAB_ARTERY_TRANSPORT", "tls-tcp", "COLLAB_ARTERY_KEY_STORE", store, "COLLAB_ARTERY_TRUST_STORE", store,
        "COLLAB_ARTERY_STORE_PASSWORD", password);
  }

  private static HttpResponse<String> get(int port, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void nodesHoldingTheKeyFormTheClusterOverTlsAndAProcessWithAnotherKeyCannotJoin() throws Exception {
    Path keys = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "artery-tls");
    Map<String, String> tls = keyStore(keys.resolve("cluster"));
    try (ProcessCluster cluster = ProcessCluster.start("artery-tls", 3, Map.of(), Set.of(), tls)) {
      List<ProcessCluster.Node> nodes = cluster.nodes();
      for (ProcessCluster.Node n : nodes) {
        assertTrue(Files.readString(cluster.work().resolve(n.name + ".log")).contains("Artery tls-tcp"),
            n + " does not run Artery over TLS");
      }
      // rooms on every node, written through one and read through another
      for (int i = 0; i < 9; i++) {
        String room = "doc-tls" + i;
        HttpResponse<String> w = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + nodes.get(0).httpPort
                + "/api/rooms/" + room + "/update")).timeout(Duration.ofSeconds(15)).header("Content-Type", "application/octet-stream")
            .POST(HttpRequest.BodyPublishers.ofByteArray(WarmupTypist.typed(200 + i, 0, "z"))).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, w.statusCode(), w.body());
        assertTrue(get(nodes.get(1).httpPort, "/api/rooms/" + room + "/json?text=t").body().contains("\"z\""), room);
      }
      assertFalse(cluster.shardsOf(nodes.get(2)).isEmpty() && cluster.shardsOf(nodes.get(1)).isEmpty(),
          "every room lives on the first node: nothing crossed the TLS link");

      // an intruder with a key of its own: its handshakes fail, it never becomes a member
      ProcessCluster.Node intruder = cluster.addNode(keyStore(keys.resolve("intruder")));
      Thread.sleep(20_000); // what joining takes here is a few seconds: this is the window it had (not a condition)
      String members = get(nodes.get(0).managementPort, "/cluster/members").body();
      assertFalse(members.contains("127.0.0.1:" + intruder.remotePort), "the intruder joined: " + members);
      int ready = -1;
      try {
        ready = get(intruder.httpPort, "/ready").statusCode();
      } catch (java.io.IOException e) {
        // not even listening: not ready either
      }
      assertTrue(ready != 200, "the intruder says it is ready");
    }
  }
}
