package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.Main;
import dev.ripple.collab.testkit.ClosingSocket;
import dev.ripple.collab.testkit.TestServers;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A client that trickles its request headers holds a connection only for the header timeout, not for as long as it trickles. */
class HeaderTimeoutEndToEndTest {
  private Main.Server server;

  @BeforeEach
  void start() throws Exception {
    server = TestServers.embedded("header", Map.of("ripple.limits.header-timeout", "2s", "akka.http.server.idle-timeout", "60s"));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
  }

  @Test
  void trickledHeadersAreCutOffAtTheHeaderTimeout() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(100);
      OutputStream out = socket.getOutputStream();
      InputStream in = socket.getInputStream();
      out.write("GET /doc-slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
      boolean closed = false;
      // one byte of a header value every 250 ms keeps the 60 s idle timeout away for as long as this loop runs (20 s)
      for (int i = 0; i < 80 && !closed; i++) {
        try {
          out.write('y');
          out.flush();
          closed = in.read() < 0;
        } catch (SocketTimeoutException e) {
          // nothing to read yet: still open
        } catch (IOException e) {
          closed = true; // reset by the server
        }
        Thread.sleep(150);
      }
      assertTrue(closed, "a connection trickling its headers for 20 s was never closed");
    }
    // the server carries on
    HttpResponse<String> alive = HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/alive")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, alive.statusCode());
  }

  @Test
  void aWebSocketOpenedInTimeOutlivesTheHeaderTimeout() throws Exception {
    ClosingSocket socket = ClosingSocket.open(HttpClient.newHttpClient(), URI.create("ws://127.0.0.1:" + server.port() + "/doc-fast"));
    Thread.sleep(4000); // twice the header timeout
    socket.ws().sendBinary(ByteBuffer.wrap(new byte[] {0, 0, 1, 0}), true).get(10, TimeUnit.SECONDS); // sync step 1, empty vector
    Thread.sleep(500);
    assertNull(socket.closed().getNow(null), "the WebSocket was closed");
    socket.ws().sendClose(WebSocket.NORMAL_CLOSURE, "done").get(10, TimeUnit.SECONDS);
  }
}
