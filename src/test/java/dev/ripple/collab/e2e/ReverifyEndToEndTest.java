package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.ripple.collab.Main;
import dev.ripple.collab.convex.ConvexStandIn;
import dev.ripple.collab.testkit.ClosingSocket;
import dev.ripple.collab.testkit.TestServers;
import java.net.URI;
import java.net.http.HttpClient;
import java.util.Map;
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
    server = TestServers.embedded("reverify", Map.of(
        "ripple.convex.site-url", convex.siteUrl().toString(), "ripple.convex.secret", SECRET,
        "ripple.auth.reverify-interval", "1s", "ripple.auth.cache-ttl", "0s"));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
    convex.close();
  }

  /** Opens a WebSocket with {@code token}, watching its close. */
  private ClosingSocket connect(String room, String token) throws Exception {
    return ClosingSocket.open(HttpClient.newHttpClient(),
        URI.create("ws://127.0.0.1:" + server.port() + "/parties/main/" + room + "?token=" + token));
  }

  @Test
  void aRevokedTokenIsClosedWith4401() throws Exception {
    convex.grant("t1", "doc-1", "u1", "write");
    ClosingSocket closed = connect("doc-1", "t1");
    Thread.sleep(2500); // two rounds: still allowed
    assertNull(closed.closed().getNow(null));
    convex.revoke("t1");
    assertEquals(4401, closed.closeCode());
  }

  @Test
  void aTokenThatLostTheRoomIsClosedWith4403AndSoIsAWriterNowOnlyAllowedToRead() throws Exception {
    convex.grant("t2", "doc-2", "u2", "write");
    convex.grant("t3", "doc-2", "u3", "write");
    ClosingSocket lost = connect("doc-2", "t2");
    ClosingSocket demoted = connect("doc-2", "t3");
    convex.revoke("t2", "doc-2");
    convex.grant("t3", "doc-2", "u3", "read");
    assertEquals(4403, lost.closeCode());
    assertEquals(4403, demoted.closeCode());
  }

  @Test
  void aConvexOutageClosesNobody() throws Exception {
    convex.grant("t4", "doc-3", "u4", "write");
    ClosingSocket closed = connect("doc-3", "t4");
    convex.failNext(1000);
    Thread.sleep(4000); // several rounds, every one answered 500
    assertNull(closed.closed().getNow(null), "a connection was closed because Convex failed");
    convex.failNext(0);
  }
}
