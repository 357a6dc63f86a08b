package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.Main;
import dev.ripple.collab.protocol.BatchAssembler;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.SteadyProvider;
import dev.ripple.collab.testkit.TestServers;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Text frames are read only as far as a batch marker can go, end to end: the server in this JVM,
 * hostile raw WebSocket connections (java.net.http) sending multi-megabyte text, and a real
 * YPartyKitProvider in the same room (conformance/e2e/e2e.mjs steady) that must stay connected and
 * receive what the document API writes afterwards.
 */
class HostileTextEndToEndTest {
  private static final long MB = 1024 * 1024;
  // yjs 13.6.33: client 1 types "hello" into the root text "text"; then " world" after it
  static final byte[] HELLO = Base64.getDecoder().decode("AQEBAAQBBHRleHQFaGVsbG8A");
  static final byte[] WORLD = Base64.getDecoder().decode("AQEBBYQBBAYgd29ybGQA");

  private final HttpClient http = HttpClient.newHttpClient();
  private Main.Server server;
  private final List<WebSocket> sockets = new ArrayList<>();

  @BeforeAll
  static void install() throws Exception {
    NodeProcess.ensureInstalled();
  }

  @BeforeEach
  void start() throws Exception {
    server = Main.start(TestServers.config(TestServers.dataDir("hostile-data")));
  }

  @AfterEach
  void stop() throws Exception {
    for (WebSocket ws : sockets) ws.abort();
    if (server != null) server.stop();
  }

  /**
   * Four connections each send a 30 MB {@code y-pk-batch#[{},{},...]} (10 million objects; parsed
   * whole, three of them took the heap to 2 GB): each is closed with 1007 and a reason naming the
   * marker bound, and a provider in the same room stays connected and still receives updates.
   */
  @Test
  void hugeBatchMarkersCloseTheirConnectionsWith1007AndTheRoomCarriesOn() throws Exception {
    String room = "doc-hostile-markers";
    try (SteadyProvider provider = SteadyProvider.start(server.port(), room, "hello world")) {
      String hostile = arrayOfEmptyObjects(30_000_000);
      List<Raw> raws = new ArrayList<>();
      for (int i = 0; i < 4; i++) raws.add(connect(room));
      for (Raw raw : raws) raw.sendText(hostile, MB);
      for (Raw raw : raws) {
        Raw.Closed closed = raw.closed.get(60, TimeUnit.SECONDS);
        assertEquals(1007, closed.code(), closed.toString());
        assertTrue(closed.reason().contains("a marker has at most " + BatchAssembler.MAX_MARKER_CHARS), closed.toString());
      }
      post(room, HELLO);
      post(room, WORLD);
      provider.assertStayedAndSaw();
    }
  }

  /**
   * Six connections each send 24 MB of one text message and hold it open (no final frame), three
   * of them starting like a marker: the server keeps no more of a text message than a marker can
   * be, so its heap after a full GC grows by far less than the 144 MB sent; the marker-like ones
   * are closed with 1007 as soon as they pass the bound, the others (text the server ignores) stay.
   */
  @Test
  void aTextMessageIsNotBufferedPastWhatAMarkerCanBe() throws Exception {
    String room = "doc-hostile-text";
    try (SteadyProvider provider = SteadyProvider.start(server.port(), room, "hello world")) {
      long baseline = heapAfterGc();
      List<Raw> markers = new ArrayList<>();
      List<Raw> others = new ArrayList<>();
      for (int i = 0; i < 3; i++) markers.add(connect(room));
      for (int i = 0; i < 3; i++) others.add(connect(room));
      String chunk = "x".repeat((int) MB);
      for (Raw raw : markers) raw.sendPartial(BatchAssembler.SENTINEL + "#{\"id\":\"", chunk, 24);
      for (Raw raw : others) raw.sendPartial("not a marker ", chunk, 24);
      // every part has left the clients (or the server closed first); the server reads text as it comes
      for (Raw raw : markers) raw.sent.get(60, TimeUnit.SECONDS);
      for (Raw raw : others) raw.sent.get(60, TimeUnit.SECONDS);
      long grownMb = (heapAfterGc() - baseline) / MB;
      System.out.println("hostile text: heap after GC +" + grownMb + " MB with 6 x 24 MB of text messages sent");
      assertTrue(grownMb < 48, "heap after a full GC grew by " + grownMb + " MB after 6 x 24 MB of unfinished text messages (bound: 48 MB)");
      for (Raw raw : markers) {
        Raw.Closed closed = raw.closed.get(30, TimeUnit.SECONDS);
        assertEquals(1007, closed.code(), closed.toString());
      }
      for (Raw raw : others) assertTrue(!raw.closed.isDone(), "a text message the server ignores closed its connection: " + raw.closed.getNow(null));
      post(room, HELLO);
      post(room, WORLD);
      provider.assertStayedAndSaw();
    }
  }

  // ------------------------------------------------------------------ helpers

  static String arrayOfEmptyObjects(int chars) {
    StringBuilder b = new StringBuilder(chars + 16).append(BatchAssembler.SENTINEL).append("#[");
    while (b.length() < chars) b.append("{},");
    return b.append("{}]").toString();
  }

  private void post(String room, byte[] update) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/api/rooms/" + room + "/update"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(update)).header("Content-Type", "application/octet-stream").build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
  }

  private Raw connect(String room) throws Exception {
    Raw raw = new Raw();
    WebSocket ws = http.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/parties/main/" + room), raw)
        .get(30, TimeUnit.SECONDS);
    sockets.add(ws);
    raw.ws = ws;
    return raw;
  }

  private static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** A raw connection: reads and drops what the server sends, remembers how it was closed. */
  static final class Raw implements WebSocket.Listener {
    record Closed(int code, String reason) {}

    final CompletableFuture<Closed> closed = new CompletableFuture<>();
    /** Every part sent (or the connection failed trying). */
    final CompletableFuture<Void> sent = new CompletableFuture<>();
    WebSocket ws;

    @Override
    public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
      closed.complete(new Closed(code, reason));
      return null; // the client answers the close
    }

    @Override
    public void onError(WebSocket w, Throwable error) {
      closed.complete(new Closed(-1, String.valueOf(error)));
    }

    /** One text message of {@code text} in parts of {@code part} characters; a refused part ends the sending (the server closed). */
    void sendText(String text, long part) {
      CompletableFuture<WebSocket> chain = CompletableFuture.completedFuture(ws);
      for (int from = 0; from < text.length(); from += (int) part) {
        int start = from;
        int end = (int) Math.min(text.length(), from + part);
        chain = chain.thenCompose(w -> w.sendText(text.substring(start, end), end == text.length()));
      }
      chain.whenComplete((w, e) -> sent.complete(null));
    }

    /** {@code head}, then {@code chunk} {@code times} times, as one text message that is never finished. */
    void sendPartial(String head, String chunk, int times) {
      CompletableFuture<WebSocket> chain = ws.sendText(head, false);
      for (int i = 0; i < times; i++) chain = chain.thenCompose(w -> w.sendText(chunk, false));
      chain.whenComplete((w, e) -> sent.complete(null));
    }
  }
}
