package dev.ripple.collab.e2e;

import static dev.ripple.collab.testkit.Eventually.eventually;
import static dev.ripple.collab.testkit.PrometheusText.sample;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import dev.ripple.collab.Main;
import dev.ripple.collab.testkit.ServerProcess;
import dev.ripple.collab.testkit.TestServers;
import dev.ripple.collab.testkit.TypedUpdates;
import dev.ripple.collab.testkit.WebhookReceiver;
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

  /** A server in this JVM, posting to the receiver; rooms passivate 300 ms after their last client (and save). */
  private Main.Server startServer(String url) throws Exception {
    Path data = TestServers.dataDir("hook-data");
    Map<String, Object> m = hookConfig(url);
    m.put("ripple.alarms.debounce", "300ms");
    return TestServers.start(data, m);
  }

  /** Rooms running on the server at {@code port} (a passivated room is not). */
  private double roomsActive(int port) {
    try {
      String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
      return sample(body, "ripple_rooms_active");
    } catch (Exception e) {
      return Double.NaN;
    }
  }

  /** Every event is the receiver's own check of what it was sent: signed, named after the room's state, HELLO's state vector. */
  private void assertEventsAreHellos() {
    assertEquals(0, receiver.badSignatures.get());
    for (JsonNode e : receiver.events) {
      assertEquals("document.updated", e.path("event").asText());
      assertEquals(e.path("roomId").asText() + ":" + e.path("updates").asLong(), e.path("id").asText());
      YDoc doc = new YDoc();
      doc.apply(HELLO);
      assertEquals(Base64.getEncoder().encodeToString(doc.stateVector()), e.path("stateVector").asText());
    }
  }

  /** A client connects, sends HELLO, sees it journaled (its sync step 1 is answered after it) and leaves. */
  private void clientEditsAndLeaves(int port, String room) throws Exception {
    java.util.concurrent.LinkedBlockingQueue<byte[]> received = new java.util.concurrent.LinkedBlockingQueue<>();
    java.net.http.WebSocket ws = http.newWebSocketBuilder()
        .buildAsync(URI.create("ws://127.0.0.1:" + port + "/" + room), new java.net.http.WebSocket.Listener() {
          @Override
          public java.util.concurrent.CompletionStage<?> onBinary(java.net.http.WebSocket w, java.nio.ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            received.add(b);
            w.request(1);
            return null;
          }
        }).get(10, TimeUnit.SECONDS);
    ws.sendBinary(java.nio.ByteBuffer.wrap(dev.ripple.collab.protocol.SyncProtocol.update(HELLO)), true).get(10, TimeUnit.SECONDS);
    ws.sendBinary(java.nio.ByteBuffer.wrap(dev.ripple.collab.protocol.SyncProtocol.syncStep1(new byte[] {0})), true)
        .get(10, TimeUnit.SECONDS);
    boolean answered = false;
    for (byte[] m; !answered && (m = received.poll(10, TimeUnit.SECONDS)) != null; ) {
      answered = dev.ripple.collab.protocol.SyncProtocol.decode(m) instanceof dev.ripple.collab.protocol.SyncProtocol.SyncUpdate u
          && u.step2() && u.update().length > 2;
    }
    assertTrue(answered, "the room answered the sync step 1 with the update");
    ws.sendClose(java.net.http.WebSocket.NORMAL_CLOSURE, "bye").get(10, TimeUnit.SECONDS);
  }

  /**
   * A receiver that sends its headers and never its body used to hold the delivery (and with it the
   * room) forever: java.net.http's request timeout ends at the headers. The whole exchange is bounded:
   * the attempt times out, is retried, the event arrives, and the room passivates.
   */
  @Test
  void aReceiverThatStallsItsBodyTimesOutIsRetriedAndTheRoomPassivates() throws Exception {
    receiver = WebhookReceiver.start(SECRET);
    receiver.stallNext.set(2);
    server = startServer(receiver.url());
    clientEditsAndLeaves(server.port(), "doc-hook-stall");
    assertTrue(eventually(Duration.ofSeconds(30), () -> receiver.notifiedRooms().contains("doc-hook-stall")),
        "delivered after the stalled attempts timed out: " + receiver.attempts.get() + " attempts");
    assertEquals(2, receiver.stalled.get());
    assertTrue(receiver.attempts.get() >= 3, "retried after each stalled attempt");
    assertEventsAreHellos();
    assertTrue(eventually(Duration.ofSeconds(30), () -> roomsActive(server.port()) == 0), "the room passivated");
  }

  /**
   * A receiver outage does not pin changed rooms in memory: a room whose clients left passivates with
   * the notification owed, and the event arrives, correctly signed, when the receiver comes back.
   */
  @Test
  void aRoomOwingANotificationPassivatesWhileTheReceiverIsDownAndTheEventFollowsWhenItIsBack() throws Exception {
    receiver = WebhookReceiver.down(SECRET);
    server = startServer(receiver.url());
    clientEditsAndLeaves(server.port(), "doc-hook-away");
    assertTrue(eventually(Duration.ofSeconds(30), () -> roomsActive(server.port()) == 0),
        "the room passivated with its notification owed");
    assertEquals(0, receiver.attempts.get());
    receiver.up();
    assertTrue(eventually(Duration.ofSeconds(30), () -> receiver.notifiedRooms().contains("doc-hook-away")),
        "delivered once the receiver is back");
    assertEventsAreHellos();
    assertEquals("doc-hook-away:1", receiver.events.get(0).path("id").asText());
    assertEquals(0, roomsActive(server.port())); // delivering did not need the room
  }

  private int post(int port, String room, byte[] update) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/rooms/" + room + "/update"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(update)).header("Content-Type", "application/octet-stream").build(),
        HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  @Test
  void aWebhookUrlWithoutItsOwnSecretFailsStartUpThoughPartykitSecretIsSet() throws Exception {
    Path data = TestServers.dataDir("hook-data");
    // PARTYKIT_SECRET as application.conf's substitutions see an environment variable
    Config config = TestServers.config(data, Map.of("ripple.webhook.url", "http://127.0.0.1:9/hooks/ripple",
        "PARTYKIT_SECRET", "the-convex-credential"));
    IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> Main.start(config));
    assertTrue(e.getMessage().contains("COLLAB_WEBHOOK_SECRET"), e.getMessage());
  }

  @Test
  void aReceiverThatFailsThenGoesDownStillGetsASignedEventForEveryChangedRoom() throws Exception {
    receiver = WebhookReceiver.start(SECRET);
    receiver.failNext.set(3); // three 500s
    Path data = TestServers.dataDir("hook-data");
    server = TestServers.start(data, hookConfig(receiver.url()));
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
    Path data = TestServers.dataDir("hook-data");
    server = TestServers.start(data, hookConfig(receiver.url()));
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
    int port = TestServers.freePort();
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

  /**
   * The same when the room had already passivated, its notification owed, before the SIGKILL: what is
   * owed outlives the room and the process, and is delivered, signed, after the restart.
   */
  @Test
  void aNotificationOwedByAPassivatedRoomSurvivesASigkillAndIsDeliveredAfterTheRestart() throws Exception {
    receiver = WebhookReceiver.down(SECRET);
    Path work = Files.createDirectories(Path.of("target", "webhook-process").toAbsolutePath());
    Path data = Files.createTempDirectory(work, "data");
    int port = TestServers.freePort();
    Map<String, String> env = Map.of("COLLAB_WEBHOOK_URL", receiver.url(), "COLLAB_WEBHOOK_SECRET", SECRET,
        "COLLAB_WEBHOOK_DEBOUNCE", "200ms", "COLLAB_WEBHOOK_MAX_DELAY", "1s");
    java.util.List<String> quick = java.util.List.of("-Dripple.alarms.debounce=300ms"); // rooms passivate soon after their last client
    process = ServerProcess.launch(port, data, work.resolve("passivated-first.log"), env, quick);
    assertEquals(200, post(port, "doc-hook-asleep", HELLO));
    int p = port;
    assertTrue(eventually(Duration.ofSeconds(30), () -> roomsActive(p) == 0), "the room passivated with its notification owed");
    process.destroyForcibly(); // SIGKILL while the room sleeps and the receiver is down
    assertTrue(process.waitFor(10, TimeUnit.SECONDS));
    receiver.up();
    process = ServerProcess.launch(port, data, work.resolve("passivated-second.log"), env, quick);
    assertTrue(eventually(Duration.ofSeconds(60), () -> receiver.notifiedRooms().contains("doc-hook-asleep")),
        "delivered after the restart, without anyone opening the room");
    assertEventsAreHellos();
  }
}
