package dev.ripple.collab.e2e;

import static dev.ripple.collab.testkit.Eventually.eventually;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.Main;
import dev.ripple.collab.convex.ConvexStandIn;
import dev.ripple.collab.testkit.Documents;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.TestServers;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * What the app's own Convex backend answers for a room it has no snapshot of, through the real
 * server and real clients: any 404 is a new document that is then backed up, as in the seed; only
 * Convex's own "no route" answer (the routes are not deployed) and other failures are failed loads,
 * after which nothing is saved until a load succeeds.
 */
class ConvexNotFoundEndToEndTest {
  static final String SECRET = "not-found-secret";
  static final Duration DEBOUNCE = Duration.ofSeconds(2);
  static final String ROOM = "doc-new";

  private final HttpClient http = HttpClient.newHttpClient();
  private ConvexStandIn convex;
  private Main.Server server;

  @BeforeAll
  static void install() throws Exception {
    NodeProcess.ensureInstalled();
  }

  @BeforeEach
  void start() throws Exception {
    convex = ConvexStandIn.start(SECRET);
    convex.grant("t", ROOM, "u", "write");
    server = TestServers.embedded("not-found", Map.of(
        "ripple.convex.site-url", convex.siteUrl().toString(),
        "ripple.convex.secret", SECRET,
        "ripple.alarms.debounce", DEBOUNCE.toSeconds() + "s",
        "ripple.alarms.load-retry-max", "2s"));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
    convex.close();
  }

  /** A writer types into the room and leaves; returns when its process has ended (the client is gone). */
  private long write(String text) throws Exception {
    String out = NodeProcess.run(NodeProcess.CONFORMANCE,
        List.of("node", "e2e/e2e.mjs", "write", Integer.toString(server.port()), ROOM, text, "t"),
        NodeProcess.WORK.resolve("not-found-write.log"), 120);
    assertTrue(out.contains("\"ok\":true"), out);
    return System.nanoTime();
  }

  private List<ConvexStandIn.Request> snapshotRequests(String method) {
    return convex.requests().stream()
        .filter(r -> r.path().equals(ConvexStandIn.SNAPSHOT) && r.method().equals(method)).toList();
  }

  /** The room's state as the server holds it, through the document API. */
  private byte[] serverState() throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/api/rooms/" + ROOM + "/update"))
        .header("Authorization", "Bearer " + SECRET).GET().build();
    HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, response.statusCode());
    return response.body();
  }

  private void assertSavedAfterTheDebounce(String text, long left) throws Exception {
    assertTrue(eventually(Duration.ofSeconds(20), () -> convex.snapshot(ROOM).isPresent()), "the new document was never backed up");
    assertEquals(text, Documents.text(convex.snapshot(ROOM).get()));
    assertArrayEquals(serverState(), convex.snapshot(ROOM).get(), "the backup is not the room's state");
    List<ConvexStandIn.Request> posts = snapshotRequests("POST");
    assertEquals(1, posts.size(), "one save after the last client left");
    // the save waited for the debounce after the client left (a lower bound: a slow machine only adds to it)
    long waited = posts.get(0).receivedNanos() - left;
    assertTrue(waited >= DEBOUNCE.minusMillis(500).toNanos(), "saved " + waited / 1_000_000 + " ms after the client left");
    assertEquals(List.of(), convex.violations());
  }

  @ParameterizedTest(name = "404 {0} {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      "text/plain|''",
      "application/json|{\"error\":\"not found\"}",
      "text/html|<html><head><title>404</title></head><body><h1>Not Found</h1></body></html>",
      "text/plain|Not found",
  })
  void every404ButConvexsNoRouteStartsANewDocumentThatIsThenSaved(String contentType, String body) throws Exception {
    convex.answerMissingWith(404, contentType, body == null ? "" : body);
    long left = write("typed into a new document");
    assertEquals(1, snapshotRequests("GET").size(), "the room loaded once");
    assertSavedAfterTheDebounce("typed into a new document", left);
  }

  @ParameterizedTest(name = "{0} {1}")
  @CsvSource(delimiter = '|', value = {
      "404|text/plain;charset=UTF-8|No matching routes found",
      "500|application/json|{\"error\":\"internal\"}",
  })
  void aFailedLoadSavesNothingAndIsRetriedUntilTheRouteAnswersThenSaves(int status, String contentType, String body)
      throws Exception {
    convex.answerSnapshotsWith(status, contentType, body);
    write("typed while the load fails");
    // the debounce has passed and the load was retried more than once: still no save over the backup
    assertTrue(eventually(Duration.ofSeconds(20), () -> snapshotRequests("GET").size() >= 3), "the load was not retried");
    assertEquals(List.of(), snapshotRequests("POST"), "a room whose load failed saved");
    convex.answerSnapshotsNormally(); // deployed (or mended): the reference's not-found JSON from now on
    long mended = System.nanoTime();
    assertTrue(eventually(Duration.ofSeconds(20), () -> convex.snapshot(ROOM).isPresent()), "never saved after the route answered");
    assertEquals("typed while the load fails", Documents.text(convex.snapshot(ROOM).get()));
    assertArrayEquals(serverState(), convex.snapshot(ROOM).get(), "the backup is not the room's state");
    assertTrue(snapshotRequests("POST").stream().allMatch(r -> r.receivedNanos() > mended), "saved before a load succeeded");
    assertEquals(List.of(), convex.violations());
  }
}
