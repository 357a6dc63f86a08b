package dev.ripple.collab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.yjs.YDoc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Durable webhooks, as the app sees them: a receiver on loopback that fails, goes down and comes
 * back still gets a correctly signed event for every changed room, and one that was down when the
 * server was killed gets it after the restart.
 */
class WebhookEndToEndTest {
  static final String SECRET = "hook-secret";
  // yjs 13.6.33: client 1 types "hello" into the root text "text"
  static final byte[] HELLO = Base64.getDecoder().decode("AQEBAAQBBHRleHQFaGVsbG8A");

  private final HttpClient http = HttpClient.newHttpClient();
  private WebhookReceiver receiver;
  private Main.Server server;
  private Process process;

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
    if (process != null) process.destroyForcibly();
    if (receiver != null) receiver.close();
  }

  private static Map<String, Object> hookConfig(String url) {
    Map<String, Object> m = new HashMap<>();
    m.put("ripple.webhook.url", url);
    m.put("ripple.webhook.secret", SECRET);
    m.put("ripple.webhook.debounce", "200ms");
    m.put("ripple.webhook.max-delay", "1s");
    m.put("ripple.webhook.retry-initial", "200ms");
    m.put("ripple.webhook.retry-max", "1s");
    m.put("ripple.webhook.request-timeout", "2s");
    return m;
  }

  private static boolean eventually(Duration max, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) return true;
      Thread.sleep(100);
    }
    return condition.getAsBoolean();
  }

  private int post(int port, String room, byte[] update) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/rooms/" + room + "/update"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(update)).header("Content-Type", "application/octet-stream").build(),
        HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  @Test
  void aWebhookUrlWithoutItsOwnSecretFailsStartUpThoughPartykitSecretIsSet() throws Exception {
    Path data = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "hook-data");
    // PARTYKIT_SECRET as application.conf's substitutions see an environment variable
    Config config = ConfigFactory.parseMap(Map.of("ripple.webhook.url", "http://127.0.0.1:9/hooks/ripple",
            "PARTYKIT_SECRET", "the-convex-credential", "ripple.http.port", 0, "ripple.http.bind-host", "127.0.0.1",
            "ripple.data-dir", data.toString()))
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve();
    IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> Main.start(config));
    assertTrue(e.getMessage().contains("COLLAB_WEBHOOK_SECRET"), e.getMessage());
  }

  @Test
  void aReceiverThatFailsThenGoesDownStillGetsASignedEventForEveryChangedRoom() throws Exception {
    receiver = WebhookReceiver.start(SECRET);
    receiver.failNext.set(3); // three 500s
    Path data = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "hook-data");
    Map<String, Object> m = hookConfig(receiver.url());
    m.putAll(Map.of("ripple.http.port", 0, "ripple.http.bind-host", "127.0.0.1", "ripple.data-dir", data.toString()));
    Config config = ConfigFactory.parseMap(m).withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference()).resolve();
    server = Main.start(config);
    assertEquals(200, post(server.port(), "doc-hook-1", HELLO));
    assertEquals(200, post(server.port(), "doc-hook-2", HELLO));
    assertTrue(eventually(Duration.ofSeconds(20), () -> receiver.attempts.get() >= 3), "the failing attempts were made");
    receiver.down(); // and now it is unreachable for a while
    assertEquals(200, post(server.port(), "doc-hook-3", HELLO));
    Thread.sleep(2500); // several retries meet a refused connection
    receiver.up();
    assertTrue(eventually(Duration.ofSeconds(30), () -> receiver.notifiedRooms().equals(Set.of("doc-hook-1", "doc-hook-2", "doc-hook-3"))),
        "every changed room notified: " + receiver.notifiedRooms());
    assertEquals(0, receiver.badSignatures.get());
    for (JsonNode e : receiver.events) {
      assertEquals("document.updated", e.path("event").asText());
      assertEquals(e.path("roomId").asText() + ":" + e.path("updates").asLong(), e.path("id").asText());
      YDoc doc = new YDoc();
      doc.apply(HELLO);
      assertEquals(Base64.getEncoder().encodeToString(doc.stateVector()), e.path("stateVector").asText());
    }
  }

  @Test
  void editsContinuingLongerThanTheMaxDelayAreNotifiedMeanwhileAndOnceSettled() throws Exception {
    receiver = WebhookReceiver.start(SECRET);
    Path data = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "hook-data");
    Map<String, Object> m = hookConfig(receiver.url());
    m.putAll(Map.of("ripple.http.port", 0, "ripple.http.bind-host", "127.0.0.1", "ripple.data-dir", data.toString()));
    server = Main.start(ConfigFactory.parseMap(m).withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference()).resolve());
    // an edit every 100 ms for 3 s: the debounce (200 ms) never passes, the max delay (1 s) does
    for (int i = 0; i < 30; i++) {
      assertEquals(200, post(server.port(), "doc-hook-busy", TypedUpdates.typed(i)));
      Thread.sleep(100);
    }
    int during = receiver.events.size();
    assertTrue(during >= 2, "notified while edits continued: " + during);
    assertTrue(eventually(Duration.ofSeconds(10), () -> !receiver.events.isEmpty()
        && receiver.events.get(receiver.events.size() - 1).path("updates").asLong() == 30), "the last state notified");
  }

  @Test
  void aNotificationOwedWhenTheServerIsKilledIsDeliveredAfterTheRestart() throws Exception {
    receiver = WebhookReceiver.down(SECRET); // not deployed yet
    Path work = Files.createDirectories(Path.of("target", "webhook-process").toAbsolutePath());
    Path data = Files.createTempDirectory(work, "data");
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Map<String, String> env = Map.of("COLLAB_WEBHOOK_URL", receiver.url(), "COLLAB_WEBHOOK_SECRET", SECRET,
        "COLLAB_WEBHOOK_DEBOUNCE", "200ms", "COLLAB_WEBHOOK_MAX_DELAY", "1s");
    process = ServerProcess.launch(port, data, work.resolve("first.log"), env);
    assertEquals(200, post(port, "doc-hook-kill", HELLO)); // journaled; its notification is owed
    process.destroyForcibly(); // SIGKILL before any delivery could succeed
    assertTrue(process.waitFor(10, TimeUnit.SECONDS));
    receiver.up();
    process = ServerProcess.launch(port, data, work.resolve("second.log"), env);
    assertTrue(eventually(Duration.ofSeconds(60), () -> receiver.notifiedRooms().contains("doc-hook-kill")),
        "delivered after the restart, without anyone opening the room");
    assertEquals(0, receiver.badSignatures.get());
  }
}
