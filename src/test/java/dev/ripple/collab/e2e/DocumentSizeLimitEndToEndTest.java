package dev.ripple.collab.e2e;

import dev.ripple.collab.Main;
import dev.ripple.collab.node.WarmupTypist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.testkit.ClosingSocket;
import dev.ripple.collab.testkit.TestServers;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A room's document stops growing at ripple.limits.max-document-bytes; the room and what it holds carry on. */
class DocumentSizeLimitEndToEndTest {
  private final HttpClient http = HttpClient.newHttpClient();
  private Main.Server server;

  @BeforeEach
  void start() throws Exception {
    server = TestServers.embedded("doc-size", Map.of("ripple.limits.max-document-bytes", "4 KiB"));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
  }

  /** A first insert of 500 characters by a client of its own: updates that do not depend on each other. */
  private static byte[] chunk(int client) {
    return WarmupTypist.typed(1000 + client, 0, "y".repeat(500));
  }

  private HttpResponse<String> post(byte[] update) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/api/rooms/doc-big/update"))
        .header("Content-Type", "application/octet-stream").POST(HttpRequest.BodyPublishers.ofByteArray(update)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private String text() throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/api/rooms/doc-big/json?text=t")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  @Test
  void updatesPastTheLimitAreRefusedWithAReasonAndTheDocumentKeepsWhatItHas() throws Exception {
    int accepted = 0;
    HttpResponse<String> refused = null;
    for (int i = 0; i < 20 && refused == null; i++) {
      HttpResponse<String> r = post(chunk(i));
      if (r.statusCode() == 200) accepted++;
      else refused = r;
    }
    assertTrue(refused != null, "20 updates of 500 characters fitted in 4 KiB");
    assertEquals(413, refused.statusCode(), refused.body());
    assertTrue(refused.body().contains("document_too_large"), refused.body());
    assertTrue(accepted >= 5 && accepted <= 8, accepted + " accepted");
    String before = text();
    assertEquals(accepted * 500, before.length() - "{\"text\":{\"t\":\"\"}}".length(), before);

    // a client's update past the limit closes its connection with 1009 and a reason; the room serves on
    ClosingSocket socket = ClosingSocket.open(http, URI.create("ws://127.0.0.1:" + server.port() + "/doc-big"));
    socket.ws().sendBinary(ByteBuffer.wrap(SyncProtocol.update(chunk(99))), true).get(10, TimeUnit.SECONDS);
    String close = socket.closed().get(20, TimeUnit.SECONDS);
    assertTrue(close.startsWith("1009 document too large"), close);
    assertEquals(before, text(), "the document changed");
    String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    assertTrue(metrics.contains("ripple_updates_refused_document_too_large_total 2.0"), metrics);
  }
}
