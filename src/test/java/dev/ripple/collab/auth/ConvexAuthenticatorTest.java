package dev.ripple.collab.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ripple.collab.convex.ConvexStandIn;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ConvexAuthenticatorTest {
  static final String SECRET = "test-secret";
  static final Duration TTL = Duration.ofSeconds(60);

  /** A clock the test moves by hand. */
  static final class ManualClock extends Clock {
    private volatile Instant now = Instant.parse("2025-01-01T00:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  ConvexStandIn convex;
  ManualClock clock = new ManualClock();

  @BeforeEach
  void start() throws Exception {
    convex = ConvexStandIn.start(SECRET);
    convex.grant("token-w", "doc-1", "user-w", "write");
    convex.grant("token-r", "doc-1", "user-r", "read");
  }

  @AfterEach
  void stop() {
    convex.close();
    assertEquals(List.of(), convex.violations(), "requests broke the Convex contract");
  }

  ConvexAuthenticator authenticator(Duration timeout, int cacheMaxEntries) {
    return new ConvexAuthenticator(convex.siteUrl(), SECRET, timeout, TTL, cacheMaxEntries, clock,
        ConvexAuthenticator.defaultClient(timeout));
  }

  ConvexAuthenticator authenticator() {
    return authenticator(Duration.ofSeconds(5), 10_000);
  }

  static AuthResult verify(Authenticator auth, String token, String roomId) throws Exception {
    return auth.verify(token, roomId).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  long verifyRequests() {
    return convex.requestsTo(ConvexStandIn.VERIFY);
  }

  @Test
  void writeTokenIsAllowedToWrite() throws Exception {
    assertEquals(new AuthResult.Allowed("user-w", Access.WRITE), verify(authenticator(), "token-w", "doc-1"));
  }

  @Test
  void readTokenIsAllowedToRead() throws Exception {
    assertEquals(new AuthResult.Allowed("user-r", Access.READ), verify(authenticator(), "token-r", "doc-1"));
  }

  @Test
  void verifyPostsTokenAndRoomAsJsonWithTheSecret() throws Exception {
    verify(authenticator(), "token-w", "doc-1");
    ConvexStandIn.Request request = convex.requests().get(0);
    assertEquals("POST", request.method());
    assertEquals("/collaboration/verify", request.path());
    assertEquals(Optional.of("Bearer " + SECRET), request.header("Authorization"));
    assertEquals(Optional.of("application/json"), request.header("Content-Type"));
    JsonNode body = request.json();
    assertEquals("token-w", body.get("token").asText());
    assertEquals("doc-1", body.get("roomId").asText());
  }

  @Test
  void unknownTokenIsDenied401() throws Exception {
    AuthResult.Denied denied = assertInstanceOf(AuthResult.Denied.class, verify(authenticator(), "token-x", "doc-1"));
    assertEquals(401, denied.status());
    assertEquals(AuthResult.Denied.UNAUTHORIZED, denied.code());
    assertEquals("token expired or unknown", denied.message());
  }

  @Test
  void tokenWithoutAccessToTheRoomIsDenied403() throws Exception {
    AuthResult.Denied denied = assertInstanceOf(AuthResult.Denied.class, verify(authenticator(), "token-w", "doc-2"));
    assertEquals(403, denied.status());
    assertEquals(AuthResult.Denied.FORBIDDEN, denied.code());
  }

  @Test
  void missingTokenIsDenied401WithoutAskingConvex() throws Exception {
    for (String token : new String[] {null, "", "  "}) {
      AuthResult.Denied denied = assertInstanceOf(AuthResult.Denied.class, verify(authenticator(), token, "doc-1"));
      assertEquals(401, denied.status());
      assertEquals(AuthResult.Denied.MISSING_TOKEN, denied.code());
    }
    assertEquals(0, verifyRequests());
  }

  @Test
  void unreachableVerifierIsUnavailable() throws Exception {
    ConvexAuthenticator auth = authenticator();
    convex.stopListening();
    assertInstanceOf(AuthResult.Unavailable.class, verify(auth, "token-w", "doc-1"));
  }

  @Test
  void slowVerifierIsUnavailable() throws Exception {
    convex.delayResponses(Duration.ofSeconds(3));
    assertInstanceOf(AuthResult.Unavailable.class, verify(authenticator(Duration.ofMillis(300), 10_000), "token-w", "doc-1"));
  }

  @Test
  void serverErrorIsUnavailable() throws Exception {
    convex.failNext(1);
    assertInstanceOf(AuthResult.Unavailable.class, verify(authenticator(), "token-w", "doc-1"));
  }

  @Test
  void accessOutsideTheContractIsUnavailable() throws Exception {
    convex.grant("token-admin", "doc-1", "user-a", "admin");
    convex.grant("token-upper", "doc-1", "user-u", "WRITE");
    assertInstanceOf(AuthResult.Unavailable.class, verify(authenticator(), "token-admin", "doc-1"));
    assertInstanceOf(AuthResult.Unavailable.class, verify(authenticator(), "token-upper", "doc-1"));
  }

  @Test
  void cachedAnswerAvoidsASecondRequestWithinTtl() throws Exception {
    ConvexAuthenticator auth = authenticator();
    verify(auth, "token-w", "doc-1");
    clock.advance(TTL.minusSeconds(1));
    assertEquals(new AuthResult.Allowed("user-w", Access.WRITE), verify(auth, "token-w", "doc-1"));
    assertEquals(1, verifyRequests());
  }

  @Test
  void cachedAnswerExpiresAfterTtl() throws Exception {
    ConvexAuthenticator auth = authenticator();
    verify(auth, "token-w", "doc-1");
    clock.advance(TTL);
    verify(auth, "token-w", "doc-1");
    assertEquals(2, verifyRequests());
  }

  @Test
  void cacheIsPerTokenAndRoom() throws Exception {
    convex.grant("token-w", "doc-2", "user-w", "read");
    ConvexAuthenticator auth = authenticator();
    verify(auth, "token-w", "doc-1");
    assertEquals(new AuthResult.Allowed("user-w", Access.READ), verify(auth, "token-w", "doc-2"));
    assertEquals(2, verifyRequests());
  }

  @Test
  void deniedAnswersAreNotCached() throws Exception {
    ConvexAuthenticator auth = authenticator();
    verify(auth, "token-x", "doc-1");
    convex.grant("token-x", "doc-1", "user-x", "write");
    assertEquals(new AuthResult.Allowed("user-x", Access.WRITE), verify(auth, "token-x", "doc-1"));
    assertEquals(2, verifyRequests());
  }

  @Test
  void unavailableAnswersAreNotCached() throws Exception {
    ConvexAuthenticator auth = authenticator();
    convex.failNext(1);
    assertInstanceOf(AuthResult.Unavailable.class, verify(auth, "token-w", "doc-1"));
    assertEquals(new AuthResult.Allowed("user-w", Access.WRITE), verify(auth, "token-w", "doc-1"));
    assertEquals(2, verifyRequests());
  }

  @Test
  void cacheDropsTheOldestBeyondItsSize() throws Exception {
    convex.grant("token-w", "doc-2", "user-w", "write");
    convex.grant("token-w", "doc-3", "user-w", "write");
    ConvexAuthenticator auth = authenticator(Duration.ofSeconds(5), 2);
    verify(auth, "token-w", "doc-1");
    verify(auth, "token-w", "doc-2");
    verify(auth, "token-w", "doc-3");
    assertEquals(3, verifyRequests());
    verify(auth, "token-w", "doc-3");
    verify(auth, "token-w", "doc-2");
    assertEquals(3, verifyRequests());
    verify(auth, "token-w", "doc-1");
    assertEquals(4, verifyRequests());
  }
}
