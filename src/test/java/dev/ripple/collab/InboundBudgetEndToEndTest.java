package dev.ripple.collab;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Many connections sending large messages at once: each is bounded by the message limit, their sum
 * by ripple.limits.max-buffered-bytes; the connection that would pass it is closed with 1013, the
 * others carry on, and what an ended connection held is given back.
 */
class InboundBudgetEndToEndTest {
  static final int PART = 3 << 20;
  private final HttpClient http = HttpClient.newHttpClient();
  private Main.Server server;

  @BeforeEach
  void start() throws Exception {
    Path data = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "budget-data");
    server = Main.start(ConfigFactory.parseMap(Map.of(
            "ripple.http.port", 0, "ripple.http.bind-host", "127.0.0.1", "ripple.data-dir", data.toString(),
            "ripple.warmup.enabled", false, "ripple.limits.max-buffered-bytes", "8 MiB"))
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
  }

  private record Client(WebSocket ws, CompletableFuture<String> closed) {}

  private Client connect() throws Exception {
    CompletableFuture<String> closed = new CompletableFuture<>();
    WebSocket ws = http.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/doc-budget"),
        new WebSocket.Listener() {
          @Override
          public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closed.complete(statusCode + " " + reason);
            return null;
          }

          @Override
          public void onError(WebSocket webSocket, Throwable error) {
            closed.complete("error " + error);
          }
        }).get(10, TimeUnit.SECONDS);
    return new Client(ws, closed);
  }

  /** The first 3 MiB of a message that is not finished: the server must keep them. */
  private static void startLargeMessage(Client c) throws Exception {
    c.ws().sendBinary(ByteBuffer.wrap(new byte[PART]), false).get(20, TimeUnit.SECONDS);
    Thread.sleep(700); // for the server to have read it (a pause, not a condition of the test)
  }

  @Test
  void theConnectionThatWouldPassTheNodesBudgetIsClosedWith1013AndWhatEndsIsGivenBack() throws Exception {
    Client a = connect();
    Client b = connect();
    Client c = connect();
    startLargeMessage(a);
    startLargeMessage(b); // 6 MiB held
    startLargeMessage(c); // would be 9 MiB
    String closeC = c.closed().get(20, TimeUnit.SECONDS);
    assertTrue(closeC.startsWith("1013 server busy"), closeC);
    assertNull(a.closed().getNow(null), "a connection within the budget was closed");
    assertNull(b.closed().getNow(null), "a connection within the budget was closed");

    a.ws().abort(); // its 3 MiB go back
    Thread.sleep(700);
    Client d = connect();
    startLargeMessage(d);
    Thread.sleep(300);
    assertNull(d.closed().getNow(null), "what a closed connection held was not given back");
    b.ws().abort();
    d.ws().abort();
  }
}
