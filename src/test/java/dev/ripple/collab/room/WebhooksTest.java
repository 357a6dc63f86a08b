package dev.ripple.collab.room;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.persistence.testkit.PersistenceTestKitPlugin;
import akka.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.config.WebhookSettings;
import dev.ripple.collab.testkit.TestServers;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * One webhook event built, signed and sent against a real endpoint on 127.0.0.1 (the JDK's HTTP
 * server) that answers what the test tells it to, and the room's outbox retrying it until a 2xx.
 */
class WebhooksTest {
  private static final byte[] SECRET = "webhooks-test-secret".getBytes(StandardCharsets.UTF_8);
  private static final byte[] STATE_VECTOR = {1, 7, 42};
  private static final ObjectMapper JSON = new ObjectMapper();

  static final Config CONFIG = PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(ConfigFactory.parseMap(Map.of("akka.actor.provider", "local")))
      .withFallback(ConfigFactory.parseResources("application.conf"))
      .withFallback(ConfigFactory.defaultReference())
      .resolve();
  static final ActorTestKit testKit = ActorTestKit.create(CONFIG);

  private final ExecutorService executor = Executors.newCachedThreadPool(task -> {
    Thread t = new Thread(task, "webhooks-test-client");
    t.setDaemon(true);
    return t;
  });
  private Endpoint endpoint;

  @AfterEach
  void stop() {
    if (endpoint != null) endpoint.close();
    executor.shutdownNow();
  }

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  /** A request as the endpoint received it. */
  record Received(String method, String path, String contentType, String signature, byte[] body) {
    JsonNode json() throws IOException {
      return JSON.readTree(body);
    }
  }

  /**
   * The app's endpoint on loopback: records every request, answers the status {@link #status} gives
   * (it sees the attempt's number, from 1), or holds the answer (headers sent and no body, or nothing
   * at all) until closed.
   */
  static final class Endpoint implements AutoCloseable {
    final HttpServer server;
    final List<Received> received = new CopyOnWriteArrayList<>();
    final AtomicInteger attempts = new AtomicInteger();
    volatile IntSupplier status = () -> 204;
    volatile boolean stallBody;
    volatile boolean stallHeaders;
    private final CountDownLatch release = new CountDownLatch(1);
    private final ExecutorService threads = Executors.newCachedThreadPool(task -> {
      Thread t = new Thread(task, "webhooks-test-endpoint");
      t.setDaemon(true);
      return t;
    });

    Endpoint() throws IOException {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      server.setExecutor(threads);
      server.createContext("/hooks", exchange -> {
        byte[] body = exchange.getRequestBody().readAllBytes();
        received.add(new Received(exchange.getRequestMethod(), exchange.getRequestURI().getPath(),
            exchange.getRequestHeaders().getFirst("Content-Type"), exchange.getRequestHeaders().getFirst(Webhooks.SIGNATURE_HEADER),
            body));
        attempts.incrementAndGet();
        try {
          if (stallHeaders) {
            release.await(60, TimeUnit.SECONDS);
          } else if (stallBody) {
            exchange.sendResponseHeaders(200, 2); // "ok" announced, then nothing
            exchange.getResponseBody().flush();
            release.await(60, TimeUnit.SECONDS);
          } else {
            exchange.sendResponseHeaders(status.getAsInt(), -1);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          exchange.close();
        }
      });
      server.start();
    }

    URI url() {
      return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/hooks/ripple");
    }

    @Override
    public void close() {
      release.countDown();
      server.stop(0);
      threads.shutdownNow();
    }
  }

  private static WebhookSettings settings(URI url, Duration requestTimeout) {
    return new WebhookSettings(url, SECRET, Duration.ofMillis(200), Duration.ofSeconds(1), requestTimeout,
        Duration.ofMillis(50), Duration.ofMillis(200), Duration.ofMinutes(5));
  }

  private Webhooks webhooks(URI url, Duration requestTimeout) {
    return new Webhooks(settings(url, requestTimeout), executor);
  }

  private Webhooks webhooksToEndpoint() throws IOException {
    endpoint = new Endpoint();
    return webhooks(endpoint.url(), Duration.ofSeconds(5));
  }

  /** The test's own HMAC-SHA256 (not Webhooks.signature). */
  private static String hmac(byte[] key, byte[] body) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
  }

  /** Waits (bounded) for a delivery's outcome: null when it succeeded, the failure otherwise. */
  private static Throwable outcome(java.util.concurrent.CompletionStage<Void> delivery) throws Exception {
    try {
      delivery.toCompletableFuture().get(30, TimeUnit.SECONDS);
      return null;
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  // ------------------------------------------------------------------ the event

  @Test
  void theEventNamesTheRoomAndItsStateInAFixedShape() {
    byte[] body = Webhooks.body("doc-7", 42, STATE_VECTOR, Instant.parse("2026-01-02T03:04:05.678Z"));
    assertEquals("{\"event\":\"document.updated\",\"id\":\"doc-7:42\",\"roomId\":\"doc-7\",\"updates\":42,"
        + "\"stateVector\":\"AQcq\",\"timestamp\":\"2026-01-02T03:04:05.678Z\"}", new String(body, StandardCharsets.UTF_8));
  }

  @Test
  void aRoomIdThatNeedsEscapingStillMakesValidJson() throws Exception {
    String room = "quote\" back\\slash \u00e9\n";
    JsonNode n = JSON.readTree(Webhooks.body(room, 0, new byte[0], Instant.EPOCH));
    assertEquals(room, n.path("roomId").asText());
    assertEquals(room + ":0", n.path("id").asText());
    assertEquals("", n.path("stateVector").asText());
    assertEquals("1970-01-01T00:00:00Z", n.path("timestamp").asText());
  }

  @Test
  void theSignatureIsHexHmacSha256OfTheBody() throws Exception {
    // RFC 4231, test case 2
    byte[] key = "Jefe".getBytes(StandardCharsets.US_ASCII);
    byte[] data = "what do ya want for nothing?".getBytes(StandardCharsets.US_ASCII);
    assertEquals("sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", Webhooks.signature(key, data));
    byte[] body = Webhooks.body("doc-1", 1, STATE_VECTOR, Instant.EPOCH);
    assertEquals(hmac(SECRET, body), Webhooks.signature(SECRET, body));
    assertTrue(!Webhooks.signature(SECRET, body).equals(Webhooks.signature("other".getBytes(StandardCharsets.UTF_8), body)));
  }

  // ------------------------------------------------------------------ one delivery

  @Test
  void aDeliveryPostsTheSignedJsonEventAndCompletesOn2xx() throws Exception {
    Webhooks hooks = webhooksToEndpoint();
    Instant before = Instant.now();
    assertNull(outcome(hooks.deliver("doc-hook", 42, STATE_VECTOR)));
    assertEquals(1, endpoint.received.size());
    Received r = endpoint.received.get(0);
    assertEquals("POST", r.method());
    assertEquals("/hooks/ripple", r.path());
    assertEquals("application/json", r.contentType());
    assertEquals(hmac(SECRET, r.body()), r.signature(), "signed with the webhook secret over the bytes sent");
    JsonNode n = r.json();
    assertEquals(List.of("event", "id", "roomId", "updates", "stateVector", "timestamp"), fieldNames(n));
    assertEquals("document.updated", n.path("event").asText());
    assertEquals("doc-hook:42", n.path("id").asText());
    assertEquals("doc-hook", n.path("roomId").asText());
    assertEquals(42, n.path("updates").asLong());
    assertEquals(Base64.getEncoder().encodeToString(STATE_VECTOR), n.path("stateVector").asText());
    assertTrue(!Instant.parse(n.path("timestamp").asText()).isBefore(before.minusSeconds(1)), n.toString());
  }

  private static List<String> fieldNames(JsonNode n) {
    List<String> names = new ArrayList<>();
    n.fieldNames().forEachRemaining(names::add);
    return names;
  }

  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {200, 201, 202, 204, 299})
  void every2xxIsASuccess(int status) throws Exception {
    Webhooks hooks = webhooksToEndpoint();
    endpoint.status = () -> status;
    assertNull(outcome(hooks.deliver("doc-ok", 1, STATE_VECTOR)));
    assertEquals(1, endpoint.attempts.get());
  }

  @ParameterizedTest(name = "HTTP {0}")
  @ValueSource(ints = {301, 304, 400, 401, 404, 409, 500, 502, 503})
  void everyOtherStatusIsARefusedDeliveryNamingTheStatus(int status) throws Exception {
    Webhooks hooks = webhooksToEndpoint();
    endpoint.status = () -> status;
    Throwable failure = outcome(hooks.deliver("doc-refused", 1, STATE_VECTOR));
    Webhooks.DeliveryException e = assertInstanceOf(Webhooks.DeliveryException.class, failure);
    assertEquals("webhook endpoint answered HTTP " + status, e.getMessage());
    assertEquals(1, endpoint.attempts.get(), "one attempt: retrying is the outbox's business, not this class's");
  }

  @Test
  void aRefusedConnectionIsADeliveryFailureNamingTheEndpoint() throws Exception {
    URI nobody = URI.create("http://127.0.0.1:" + TestServers.freePort() + "/hooks/ripple");
    Throwable failure = outcome(webhooks(nobody, Duration.ofSeconds(5)).deliver("doc-down", 1, STATE_VECTOR));
    Webhooks.DeliveryException e = assertInstanceOf(Webhooks.DeliveryException.class, failure);
    assertEquals("cannot connect to the webhook endpoint " + nobody, e.getMessage());
  }

  @Test
  void anEndpointThatSendsItsHeadersAndStallsItsBodyFailsWithinTheRequestTimeout() throws Exception {
    endpoint = new Endpoint();
    endpoint.stallBody = true;
    Throwable failure = outcome(webhooks(endpoint.url(), Duration.ofMillis(500)).deliver("doc-stall", 1, STATE_VECTOR));
    Webhooks.DeliveryException e = assertInstanceOf(Webhooks.DeliveryException.class, failure);
    assertEquals("webhook endpoint gave no complete answer within 500 ms", e.getMessage());
  }

  @Test
  void anEndpointThatNeverAnswersFailsWithinTheRequestTimeout() throws Exception {
    endpoint = new Endpoint();
    endpoint.stallHeaders = true;
    Throwable failure = outcome(webhooks(endpoint.url(), Duration.ofMillis(500)).deliver("doc-silent", 1, STATE_VECTOR));
    Webhooks.DeliveryException e = assertInstanceOf(Webhooks.DeliveryException.class, failure);
    assertEquals("webhook endpoint gave no complete answer within 500 ms", e.getMessage());
  }

  @Test
  void aRepeatedDeliveryOfTheSameStateCarriesTheSameId() throws Exception {
    Webhooks hooks = webhooksToEndpoint();
    endpoint.status = () -> 500;
    assertInstanceOf(Webhooks.DeliveryException.class, outcome(hooks.deliver("doc-again", 9, STATE_VECTOR)));
    endpoint.status = () -> 204;
    assertNull(outcome(hooks.deliver("doc-again", 9, STATE_VECTOR)));
    assertNull(outcome(hooks.deliver("doc-again", 10, STATE_VECTOR)));
    List<String> ids = new ArrayList<>();
    for (Received r : endpoint.received) ids.add(r.json().path("id").asText());
    assertEquals(List.of("doc-again:9", "doc-again:9", "doc-again:10"), ids, "the receiver can drop the duplicate by id");
  }

  // ------------------------------------------------------------------ retried by the outbox

  private TestProbe<RoomProtocol.Command> room() {
    return testKit.createTestProbe(RoomProtocol.Command.class);
  }

  @Test
  void theOutboxRetriesAFailingEndpointUntilA2xxAndThenTellsTheRoom() throws Exception {
    Webhooks hooks = webhooksToEndpoint();
    endpoint.status = () -> endpoint.attempts.get() <= 3 ? 500 : 204; // three refusals, then accepted
    TestProbe<RoomProtocol.Command> room = room();
    TestProbe<WebhookOutbox.Command> self = testKit.createTestProbe(WebhookOutbox.Command.class);
    var outbox = testKit.spawn(WebhookOutbox.create("doc-retry", hooks, null, self.ref()));
    outbox.tell(new WebhookOutbox.Deliver(5, STATE_VECTOR, room.ref()));
    assertEquals(new RoomProtocol.NotificationAccepted(5), room.expectMessageClass(RoomProtocol.NotificationAccepted.class, Duration.ofSeconds(10)));
    assertEquals(new RoomProtocol.NotificationDelivered(5), room.expectMessageClass(RoomProtocol.NotificationDelivered.class, Duration.ofSeconds(30)));
    assertEquals(4, endpoint.received.size(), "three failed attempts and the accepted one");
    for (Received r : endpoint.received) {
      assertEquals(hmac(SECRET, r.body()), r.signature());
      assertEquals("doc-retry:5", r.json().path("id").asText(), "every retry carries the same id");
      assertEquals(Base64.getEncoder().encodeToString(STATE_VECTOR), r.json().path("stateVector").asText());
    }
    // delivered already: a repeated hand-over is answered from the journal, with no second delivery
    outbox.tell(new WebhookOutbox.Deliver(5, STATE_VECTOR, room.ref()));
    assertEquals(new RoomProtocol.NotificationDelivered(5), room.expectMessageClass(RoomProtocol.NotificationDelivered.class, Duration.ofSeconds(10)));
    assertEquals(4, endpoint.attempts.get());
    testKit.stop(outbox);
  }

  @Test
  void aNewerStateHandedOverWhileRetryingIsWhatTheNextAttemptsCarry() throws Exception {
    Webhooks hooks = webhooksToEndpoint();
    CompletableFuture<Void> mended = new CompletableFuture<>();
    endpoint.status = () -> mended.isDone() ? 204 : 503;
    TestProbe<RoomProtocol.Command> room = room();
    TestProbe<WebhookOutbox.Command> self = testKit.createTestProbe(WebhookOutbox.Command.class);
    var outbox = testKit.spawn(WebhookOutbox.create("doc-newer", hooks, null, self.ref()));
    outbox.tell(new WebhookOutbox.Deliver(5, new byte[] {1, 1, 5}, room.ref()));
    assertEquals(new RoomProtocol.NotificationAccepted(5), room.expectMessageClass(RoomProtocol.NotificationAccepted.class, Duration.ofSeconds(10)));
    awaitAttempt("doc-newer:5");
    outbox.tell(new WebhookOutbox.Deliver(9, new byte[] {1, 1, 9}, room.ref()));
    assertEquals(new RoomProtocol.NotificationAccepted(9), room.expectMessageClass(RoomProtocol.NotificationAccepted.class, Duration.ofSeconds(10)));
    awaitAttempt("doc-newer:9"); // still refused: the endpoint is mended only now
    mended.complete(null);
    assertEquals(new RoomProtocol.NotificationDelivered(9), room.expectMessageClass(RoomProtocol.NotificationDelivered.class, Duration.ofSeconds(30)),
        "the first delivery that succeeds is the newest state's; the older one is covered by it");
    List<Long> updates = new ArrayList<>();
    for (Received r : endpoint.received) updates.add(r.json().path("updates").asLong());
    for (int i = 1; i < updates.size(); i++) {
      assertTrue(updates.get(i) >= updates.get(i - 1), "never an older state after a newer one: " + updates);
    }
    assertEquals("AQEJ", endpoint.received.get(endpoint.received.size() - 1).json().path("stateVector").asText());
    testKit.stop(outbox);
  }

  /** Waits (bounded) until the endpoint has received an attempt with this id. */
  private void awaitAttempt(String id) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      for (Received r : endpoint.received) if (r.json().path("id").asText().equals(id)) return;
      Thread.sleep(20);
    }
    throw new AssertionError("no attempt with id " + id + " in " + endpoint.received.size() + " attempts");
  }
}
