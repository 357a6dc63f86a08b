package dev.ripple.collab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.convex.ConvexStandIn;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Open connections' tokens are checked again: a revoked one is closed with 4401/4403, a Convex outage closes nothing. */
class ReverifyEndToEndTest {
  static final String SECRET = "reverify-secret";
  private ConvexStandIn convex;
  private Main.Server server;

  @BeforeEach
  void start() throws Exception {
    convex = ConvexStandIn.start(SECRET);
    Path data = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "reverify-data");
    server = Main.start(ConfigFactory.parseMap(Map.of(
            "ripple.http.port", 0, "ripple.http.bind-host", "127.0.0.1", "ripple.data-dir", data.toString(),
            "ripple.warmup.enabled", false,
            "ripple.convex.site-url", convex.siteUrl().toString(), "ripple.convex.secret", SECRET,
            "ripple.auth.reverify-interval", "1s", "ripple.auth.cache-ttl", "0s"))
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
    convex.close();
  }

  /** Opens a WebSocket with {@code token}; the future completes with its close code. */
  private CompletableFuture<Integer> connect(String room, String token) throws Exception {
    CompletableFuture<Integer> closed = new CompletableFuture<>();
    HttpClient.newHttpClient().newWebSocketBuilder()
        .buildAsync(URI.create("ws://127.0.0.1:" + server.port() + "/parties/main/" + room + "?token=" + token), new WebSocket.Listener() {
          @Override
          public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closed.complete(statusCode);
            return null;
          }

          @Override
          public void onError(WebSocket webSocket, Throwable error) {
            closed.completeExceptionally(error);
          }
        }).get(10, TimeUnit.SECONDS);
    return closed;
  }

  @Test
  void aRevokedTokenIsClosedWith4401() throws Exception {
    convex.grant("t1", "doc-1", "u1", "write");
    CompletableFuture<Integer> closed = connect("doc-1", "t1");
    Thread.sleep(2500); // two rounds: still allowed
    assertNull(closed.getNow(null));
    convex.revoke("t1");
    assertEquals(4401, closed.get(20, TimeUnit.SECONDS));
  }

  @Test
  void aTokenThatLostTheRoomIsClosedWith4403AndSoIsAWriterNowOnlyAllowedToRead() throws Exception {
    convex.grant("t2", "doc-2", "u2", "write");
    convex.grant("t3", "doc-2", "u3", "write");
    CompletableFuture<Integer> lost = connect("doc-2", "t2");
    CompletableFuture<Integer> demoted = connect("doc-2", "t3");
    convex.revoke("t2", "doc-2");
    convex.grant("t3", "doc-2", "u3", "read");
    assertEquals(4403, lost.get(20, TimeUnit.SECONDS));
    assertEquals(4403, demoted.get(20, TimeUnit.SECONDS));
  }

  @Test
  void aConvexOutageClosesNobody() throws Exception {
    convex.grant("t4", "doc-3", "u4", "write");
    CompletableFuture<Integer> closed = connect("doc-3", "t4");
    convex.failNext(1000);
    Thread.sleep(4000); // several rounds, every one answered 500
    assertNull(closed.getNow(null), "a connection was closed because Convex failed");
    convex.failNext(0);
  }
}
