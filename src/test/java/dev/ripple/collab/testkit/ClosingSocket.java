package dev.ripple.collab.testkit;

import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.Main;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * A raw WebSocket client (java.net.http) whose close the test watches: {@link #closed()} completes
 * with "code reason" when the server closes it, or "error …" when the connection breaks. Also the
 * embedded server the limit tests start it against.
 */
public record ClosingSocket(WebSocket ws, CompletableFuture<String> closed) {

  /** Opens {@code uri} (ws://…) and watches its close. */
  public static ClosingSocket open(HttpClient http, URI uri) throws Exception {
    CompletableFuture<String> closed = new CompletableFuture<>();
    WebSocket ws = http.newWebSocketBuilder().buildAsync(uri, new WebSocket.Listener() {
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
    return new ClosingSocket(ws, closed);
  }

  /** The close code, once closed (within 20 s), or -1 for a broken connection. */
  public int closeCode() throws Exception {
    String close = closed.get(20, TimeUnit.SECONDS);
    return close.startsWith("error") ? -1 : Integer.parseInt(close.substring(0, close.indexOf(' ')));
  }

  /** An embedded server on 127.0.0.1, a fresh data directory, no warm-up, with these settings over application.conf. */
  public static Main.Server embedded(String name, Map<String, Object> settings) throws Exception {
    Path data = Files.createTempDirectory(Path.of("target").toAbsolutePath(), name + "-data");
    Map<String, Object> all = new HashMap<>(Map.of(
        "ripple.http.port", 0, "ripple.http.bind-host", "127.0.0.1", "ripple.data-dir", data.toString(),
        "ripple.warmup.enabled", false));
    all.putAll(settings);
    return Main.start(ConfigFactory.parseMap(all)
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve());
  }
}
