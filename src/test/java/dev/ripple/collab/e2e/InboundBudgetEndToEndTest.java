package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.Main;
import dev.ripple.collab.testkit.ClosingSocket;
import dev.ripple.collab.testkit.TestServers;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.ByteBuffer;
import java.util.Map;
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
    server = TestServers.embedded("budget", Map.of("ripple.limits.max-buffered-bytes", "8 MiB"));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
  }

  private ClosingSocket connect() throws Exception {
    return ClosingSocket.open(http, URI.create("ws://127.0.0.1:" + server.port() + "/doc-budget"));
  }

  /** The first 3 MiB of a message that is not finished: the server must keep them. */
  private static void startLargeMessage(ClosingSocket c) throws Exception {
    c.ws().sendBinary(ByteBuffer.wrap(new byte[PART]), false).get(20, TimeUnit.SECONDS);
    Thread.sleep(700); // for the server to have read it (a pause, not a condition of the test)
  }

  @Test
  void theConnectionThatWouldPassTheNodesBudgetIsClosedWith1013AndWhatEndsIsGivenBack() throws Exception {
    ClosingSocket a = connect();
    ClosingSocket b = connect();
    ClosingSocket c = connect();
    startLargeMessage(a);
    startLargeMessage(b); // 6 MiB held
    startLargeMessage(c); // would be 9 MiB
    String closeC = c.closed().get(20, TimeUnit.SECONDS);
    assertTrue(closeC.startsWith("1013 server busy"), closeC);
    assertNull(a.closed().getNow(null), "a connection within the budget was closed");
    assertNull(b.closed().getNow(null), "a connection within the budget was closed");

    a.ws().abort(); // its 3 MiB go back
    Thread.sleep(700);
    ClosingSocket d = connect();
    startLargeMessage(d);
    Thread.sleep(300);
    assertNull(d.closed().getNow(null), "what a closed connection held was not given back");
    b.ws().abort();
    d.ws().abort();
  }
}
