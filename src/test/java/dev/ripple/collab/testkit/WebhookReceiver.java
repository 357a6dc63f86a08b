package dev.ripple.collab.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.ripple.collab.room.Webhooks;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A webhook endpoint on loopback for tests: verifies every event's signature as an app would, keeps
 * the valid ones, answers 500 to the next {@link #failNext} attempts, stalls the next {@link #stallNext}
 * (their headers are sent, their body never comes), and can go down and come back on the same port.
 */
public final class WebhookReceiver implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  public final int port;
  private final byte[] secret;
  private HttpServer server;
  public final List<JsonNode> events = new CopyOnWriteArrayList<>();
  public final AtomicInteger attempts = new AtomicInteger();
  public final AtomicInteger badSignatures = new AtomicInteger();
  public final AtomicInteger failNext = new AtomicInteger();
  public final AtomicInteger stallNext = new AtomicInteger();
  /** Attempts stalled so far. */
  public final AtomicInteger stalled = new AtomicInteger();
  /** Stalled answers wait for this; it opens when the receiver goes down. */
  private java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
  private java.util.concurrent.ExecutorService executor;

  private WebhookReceiver(int port, String secret) {
    this.port = port;
    this.secret = secret.getBytes(StandardCharsets.UTF_8);
  }

  /** A receiver on a free loopback port (up). */
  public static WebhookReceiver start(String secret) throws IOException {
    WebhookReceiver r = new WebhookReceiver(TestServers.freePort(), secret);
    r.up();
    return r;
  }

  /** A receiver for a port, not listening yet (down): the endpoint is deployed later. */
  public static WebhookReceiver down(String secret) throws IOException {
    return new WebhookReceiver(TestServers.freePort(), secret);
  }

  public String url() {
    return "http://127.0.0.1:" + port + "/hooks/ripple";
  }

  public synchronized void up() throws IOException {
    if (server != null) return;
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
    release = new java.util.concurrent.CountDownLatch(1);
    executor = java.util.concurrent.Executors.newCachedThreadPool(task -> {
      Thread t = new Thread(task, "webhook-receiver");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor); // a stalled answer holds one thread, not the whole receiver
    java.util.concurrent.CountDownLatch opens = release;
    server.createContext("/hooks/ripple", exchange -> {
      byte[] body = exchange.getRequestBody().readAllBytes();
      attempts.incrementAndGet();
      if (stallNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        stalled.incrementAndGet();
        exchange.sendResponseHeaders(200, 2); // "ok" announced, and then nothing until the receiver goes down
        exchange.getResponseBody().flush();
        try {
          opens.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        exchange.close();
        return;
      }
      int status;
      String given = exchange.getRequestHeaders().getFirst(Webhooks.SIGNATURE_HEADER);
      if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        status = 500;
      } else if (given == null || !java.security.MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8),
          signature(body).getBytes(StandardCharsets.UTF_8))) {
        badSignatures.incrementAndGet();
        status = 401;
      } else {
        events.add(JSON.readTree(body));
        status = 204;
      }
      exchange.sendResponseHeaders(status, -1);
      exchange.close();
    });
    server.start();
  }

  /** The receiver's own computation of the signature (not the server's code): hex HMAC-SHA256 of the body. */
  private String signature(byte[] body) {
    try {
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
      mac.init(new javax.crypto.spec.SecretKeySpec(secret, "HmacSHA256"));
      StringBuilder hex = new StringBuilder("sha256=");
      for (byte b : mac.doFinal(body)) hex.append(String.format("%02x", b));
      return hex.toString();
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public synchronized void down() {
    release.countDown();
    if (server != null) server.stop(0);
    if (executor != null) executor.shutdownNow();
    server = null;
    executor = null;
  }

  /** Rooms with at least one valid event. */
  public java.util.Set<String> notifiedRooms() {
    java.util.Set<String> rooms = new java.util.TreeSet<>();
    for (JsonNode e : events) rooms.add(e.path("roomId").asText());
    return rooms;
  }

  @Override
  public void close() {
    down();
  }
}
