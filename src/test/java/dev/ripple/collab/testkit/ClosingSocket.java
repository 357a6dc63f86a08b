package dev.ripple.collab.testkit;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/**
 * A raw WebSocket client (java.net.http) whose close the test watches: {@link #closed()} completes
 * with "code reason" when the server closes it, or "error …" when the connection breaks.
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
}
