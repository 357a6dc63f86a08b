package dev.ripple.collab.e2e;

import dev.ripple.collab.Main;
import dev.ripple.collab.journal.FileJournal;
import dev.ripple.collab.node.Warmup;
import dev.ripple.collab.room.ShardAnchors;
import dev.ripple.collab.room.WarmupRooms;

import static dev.ripple.collab.testkit.PrometheusText.sample;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.testkit.TestServers;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The self warm-up before /ready: it runs through the real path, gates readiness, and leaves nothing behind. */
class WarmupEndToEndTest {
  private final HttpClient http = HttpClient.newHttpClient();
  private Main.Server server;

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
  }

  private Main.Server start(Path data, Map<String, Object> warmup) throws Exception {
    var m = TestServers.loopback(data);
    warmup.forEach((k, v) -> m.put("ripple.warmup." + k, v));
    return Main.start(TestServers.config(m));
  }

  private int ready() throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/ready")).build(),
        HttpResponse.BodyHandlers.ofString()).statusCode();
  }

  private Warmup.State state() {
    return Warmup.State.ID.get(server.system().classicSystem());
  }

  @Test
  void theNodeIsReadyOnlyAfterItsWarmupRanThroughTheRealPath() throws Exception {
    Path data = Files.createTempDirectory("warmup");
    server = start(data, Map.of("enabled", true, "rooms", 3, "clients-per-room", 3, "updates-per-client", 300,
        "cleanup-after", "3600 s"));
    int first = ready();
    state().ended().toCompletableFuture().get(60, TimeUnit.SECONDS);
    assertTrue(state().warmed(), "the warm-up failed or timed out (see the log)");
    assertEquals(503, first, "ready before the warm-up ended");
    assertEquals(200, ready());
    // it went through the journal: the rooms' updates are there until the clean-up
    assertTrue(warmupRows("event_journal") > 0, "the warm-up wrote nothing to the journal");
  }

  @Test
  void everyShardRunsOnceTheNodeIsReadyAndItsAnchorsAreNotCountedAsRooms() throws Exception {
    server = start(Files.createTempDirectory("warmup"), Map.of("enabled", true, "start-shards", true, "rooms", 1,
        "clients-per-room", 1, "updates-per-client", 10, "cleanup-after", "3600 s"));
    state().ended().toCompletableFuture().get(60, TimeUnit.SECONDS);
    int shards = server.system().settings().config().getInt("akka.cluster.sharding.number-of-shards");
    assertEquals(shards, Warmup.roomsRunning(server.system(), ShardAnchors.PREFIX).toCompletableFuture().get(10, TimeUnit.SECONDS));
    String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    assertEquals(shards, sample(metrics, "ripple_shards"), metrics);
    assertTrue(sample(metrics, "ripple_shard_rooms") <= 1, "only the warm-up's room counts as a room: " + metrics);
  }

  @Test
  void theWarmupRoomsJournalRowsAreDeletedAfterwards() throws Exception {
    Path data = Files.createTempDirectory("warmup");
    server = start(data, Map.of("enabled", true, "rooms", 2, "clients-per-room", 2, "updates-per-client", 100,
        "cleanup-after", "2 s"));
    state().ended().toCompletableFuture().get(60, TimeUnit.SECONDS);
    assertTrue(state().warmed());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    // the rooms journal their final (no-op) save 7 s after their clients left, later than the 2 s clean-up:
    // count only once they have stopped, so that a row written after the deletion shows
    while ((warmupRoomsRunning() > 0 || warmupRows("event_journal") > 0) && System.nanoTime() < deadline) Thread.sleep(200);
    assertEquals(0, warmupRoomsRunning(), "the warm-up rooms did not stop");
    assertEquals(0, warmupRows("event_journal"));
    assertEquals(0, warmupRows("snapshot"));
  }

  @Test
  void aClientWithoutTheSecretCannotOpenAWarmupRoom() throws Exception {
    server = start(Files.createTempDirectory("warmup"), Map.of("enabled", false));
    for (String secret : new String[] {null, "guess"}) {
      var builder = http.newWebSocketBuilder();
      if (secret != null) builder.header(Warmup.HEADER, secret);
      try {
        builder.buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/parties/main/" + WarmupRooms.ROOM_PREFIX + "x~0"),
            new java.net.http.WebSocket.Listener() { }).join();
        throw new AssertionError("a warm-up room opened for secret " + secret);
      } catch (CompletionException e) {
        assertTrue(e.getCause() instanceof WebSocketHandshakeException, e.toString());
        assertEquals(403, ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode());
      }
    }
  }

  @Test
  void withoutWarmupTheNodeIsReadyAtOnce() throws Exception {
    server = start(Files.createTempDirectory("warmup"), Map.of("enabled", false));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (ready() != 200 && System.nanoTime() < deadline) Thread.sleep(100); // the database check, the cluster Up
    assertEquals(200, ready());
  }

  private long warmupRoomsRunning() throws Exception {
    return Warmup.roomsRunning(server.system(), WarmupRooms.ROOM_PREFIX).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /** Live events of warm-up rooms in the file journal (single mode's journal), or their snapshots in the file snapshot store. */
  private long warmupRows(String table) throws Exception {
    if (table.equals("event_journal")) {
      akka.actor.ActorRef journal = akka.persistence.Persistence.get(server.system().classicSystem())
          .journalFor("", ConfigFactory.empty());
      return (Long) akka.pattern.Patterns.ask(journal, new FileJournal.CountLiveEvents("Room|" + WarmupRooms.ROOM_PREFIX),
          java.time.Duration.ofSeconds(10)).toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    // the file snapshot store: one directory per persistence id, its name the id URL-encoded
    Path snapshots = Path.of(server.system().settings().config().getString("ripple-file-snapshot-store.dir"));
    if (!Files.exists(snapshots)) return 0;
    try (var dirs = Files.list(snapshots)) {
      return dirs.map(d -> URLDecoder.decode(d.getFileName().toString(), StandardCharsets.UTF_8))
          .filter(id -> id.startsWith("Room|" + WarmupRooms.ROOM_PREFIX)).count();
    }
  }
}
