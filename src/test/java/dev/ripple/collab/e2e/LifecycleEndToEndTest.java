package dev.ripple.collab.e2e;

import static dev.ripple.collab.testkit.Eventually.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import dev.ripple.collab.Main;
import dev.ripple.collab.convex.ConvexStandIn;
import dev.ripple.collab.testkit.Documents;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.TestServers;
import dev.ripple.collab.yjs.YDoc;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
    convex.grant("t", "doc-stale", "u", "write");
    data = TestServers.dataDir("life-data");
    server = Main.start(config());
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
    convex.close();
  }

  private Config config() {
    return TestServers.config(data, Map.of(
        "ripple.convex.site-url", convex.siteUrl().toString(),
        "ripple.convex.secret", SECRET,
        "ripple.alarms.debounce", "2s"));
  }

  private String node(String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("node", "e2e/e2e.mjs"));
    cmd.addAll(List.of(args));
    return NodeProcess.run(NodeProcess.CONFORMANCE, cmd, NodeProcess.WORK.resolve("life-" + args[0] + ".log"), 120);
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

  /** An update by {@code client} typing {@code text} at the start of the root text "text" (yjs's encoding, no origin). */
  static byte[] typedAtStart(int client, String text) {
    dev.ripple.collab.yjs.Lib0Encoder e = new dev.ripple.collab.yjs.Lib0Encoder();
    e.writeVarUint(1);
    e.writeVarUint(1);
    e.writeVarUint(client);
    e.writeVarUint(0);
    e.writeUint8(4); // string content, parent given by name
    e.writeVarUint(1);
    e.writeVarString("text");
    e.writeVarString(text);
    e.writeVarUint(0); // no deletes
    return e.toByteArray();
  }

  private int postUpdate(String room, byte[] update) throws Exception {
    return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
            java.net.URI.create("http://127.0.0.1:" + server.port() + "/api/rooms/" + room + "/update"))
        .header("Authorization", "Bearer " + SECRET).header("Content-Type", "application/octet-stream")
        .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(update)).build(),
        java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  /**
   * "Newest save wins" with a stale node: this node served the room, then another node served it and
   * saved a snapshot covering more updates with edits this node never saw. This node's journal still
   * holds the room (local state takes precedence: no load at start), so its next save covers fewer
   * updates than the backup's and is refused; instead of taking that for confirmed (and later, once
   * its count passed the backup's, overwriting the other node's edits) it merges the backup and saves
   * a state with every edit.
   */
  @Test
  void aNodeWithAStaleJournalMergesTheNewerBackupInsteadOfLosingTheOtherNodesEdits() throws Exception {
    node("write", Integer.toString(server.port()), "doc-stale", "A", "t");
    assertTrue(eventually(Duration.ofSeconds(15), () -> convex.snapshot("doc-stale").isPresent()), "the first save");
    server.stop();
    server = null;
    // another node served the room since: its snapshot has "B" as well and covers 40 updates
    YDoc elsewhere = new YDoc();
    elsewhere.apply(convex.snapshot("doc-stale").get());
    elsewhere.apply(typedAtStart(424242, "B"));
    convex.putSnapshot("doc-stale", elsewhere.encodeStateAsUpdate(), 40);
    server = Main.start(config()); // this node again, with its journal from before
    assertEquals(200, postUpdate("doc-stale", typedAtStart(535353, "C"))); // an edit here: the room's count is 2
    assertTrue(eventually(Duration.ofSeconds(30), () -> {
      String t = text(convex.snapshot("doc-stale").get());
      return t.contains("A") && t.contains("B") && t.contains("C");
    }), "the backup holds every node's edits: " + text(convex.snapshot("doc-stale").get()));
    assertTrue(convex.snapshotUpdates("doc-stale").get() > 40, "the count continued above the backup's");
    assertEquals(3, text(convex.snapshot("doc-stale").get()).length());
    // and the room itself has them all (a client that joins now reads them)
    String merged = text(convex.snapshot("doc-stale").get());
    String out = node("read", Integer.toString(server.port()), "doc-stale", merged, "t");
    assertTrue(out.contains("\"ok\":true"), out);
    assertEquals(List.of(), convex.violations());
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
