package dev.ripple.collab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.convex.ConvexStandIn;
import dev.ripple.collab.yjs.YDoc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Durable Object lifecycle through the real server, the real clients and the strict Convex
 * stand-in: backups after the last client leaves, cold start from the backup, the durable alarm.
 */
class LifecycleEndToEndTest {
  static final String SECRET = "lifecycle-secret";

  private ConvexStandIn convex;
  private Path data;
  private Main.Server server;

  @BeforeAll
  static void install() throws Exception {
    NodeProcess.ensureInstalled();
  }

  @BeforeEach
  void start() throws Exception {
    convex = ConvexStandIn.start(SECRET);
    convex.grant("t", "doc-life", "u", "write");
    convex.grant("t", "doc-cold", "u", "write");
    convex.grant("t", "doc-crash", "u", "write");
    data = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "life-data");
    server = Main.start(config());
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
    convex.close();
  }

  private Config config() {
    return ConfigFactory.parseMap(Map.of(
            "ripple.http.port", 0,
            "ripple.http.bind-host", "127.0.0.1",
            "ripple.data-dir", data.toString(),
            "ripple.convex.site-url", convex.siteUrl().toString(),
            "ripple.convex.secret", SECRET,
            "ripple.alarms.debounce", "2s"))
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  private String node(String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("node", "e2e.mjs"));
    cmd.addAll(List.of(args));
    return NodeProcess.run(NodeProcess.CONFORMANCE, cmd, NodeProcess.WORK.resolve("life-" + args[0] + ".log"), 120);
  }

  private static boolean eventually(Duration max, BooleanSupplier cond) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      if (cond.getAsBoolean()) return true;
      Thread.sleep(100);
    }
    return cond.getAsBoolean();
  }

  private static String text(byte[] state) {
    return Documents.text(state);
  }

  @Test
  void lastClientLeavingSavesTheDocumentToConvex() throws Exception {
    node("write", Integer.toString(server.port()), "doc-life", "saved to convex", "t");
    assertTrue(eventually(Duration.ofSeconds(15), () -> convex.snapshot("doc-life").isPresent()), "no backup was saved");
    assertEquals("saved to convex", text(convex.snapshot("doc-life").get()));
    assertEquals(List.of(), convex.violations());
  }

  @Test
  void aNewRoomLoadsItsBackupBeforeAnsweringAClient() throws Exception {
    YDoc doc = new YDoc();
    doc.apply(java.util.Base64.getDecoder().decode("AQEBAAQBBHRleHQFaGVsbG8A")); // "hello"
    convex.putSnapshot("doc-cold", doc.encodeStateAsUpdate());
    String out = node("read", Integer.toString(server.port()), "doc-cold", "hello", "t");
    assertTrue(out.contains("\"ok\":true"), out);
  }

  @Test
  void aRoomStoppedWithASaveOwedIsStartedAgainAndSavesWithoutAnyClient() throws Exception {
    node("write", Integer.toString(server.port()), "doc-crash", "owed", "t");
    convex.failNext(1000); // from now on every save fails (the debounced one comes 2 s after the client left)
    server.stop(); // the node goes away with the save owed
    server = null;
    assertEquals(Optional.empty(), convex.snapshot("doc-crash"));
    convex.failNext(0);
    server = Main.start(config()); // no client connects: remember-entities restarts the room
    assertTrue(eventually(Duration.ofSeconds(30), () -> convex.snapshot("doc-crash").isPresent()), "the owed save was not made");
    assertEquals("owed", text(convex.snapshot("doc-crash").get()));
  }
}
