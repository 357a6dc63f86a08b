package dev.ripple.collab.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.convex.ConvexStandIn;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What a flood of upgrades with unknown tokens may cost the app's Convex deployment. */
class LimitedAuthenticatorTest {
  static final String SECRET = "limits-secret";

  ConvexStandIn convex;
  ConvexAuthenticatorTest.ManualClock clock = new ConvexAuthenticatorTest.ManualClock();

  @BeforeEach
  void start() throws Exception {
    convex = ConvexStandIn.start(SECRET);
    convex.grant("good", "doc-1", "user", "write");
  }

  @AfterEach
  void stop() {
    convex.close();
    assertEquals(List.of(), convex.violations());
  }

  LimitedAuthenticator limited(int maxConcurrent, double rate, int burst) {
    Duration timeout = Duration.ofSeconds(10);
    ConvexAuthenticator inner = new ConvexAuthenticator(convex.siteUrl(), SECRET, timeout, Duration.ofSeconds(60), 1000, clock,
        ConvexAuthenticator.defaultClient(timeout));
    return new LimitedAuthenticator(inner, new AuthSettings.Limits(maxConcurrent, rate, burst, 1000, Duration.ofSeconds(10), false), clock);
  }

  static AuthResult await(CompletionStage<AuthResult> stage) throws Exception {
    return stage.toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  @Test
  void aFloodOfRandomTokensFromOneAddressCostsConvexOnlyItsBurst() throws Exception {
    LimitedAuthenticator auth = limited(64, 5, 20);
    int limited = 0;
    for (int i = 0; i < 300; i++) {
      AuthResult r = await(auth.verify(UUID.randomUUID().toString(), "doc-1", "10.1.1.1"));
      if (r instanceof AuthResult.Denied d && d.status() == 429) limited++;
    }
    assertEquals(20, convex.requestsTo(ConvexStandIn.VERIFY), "verify calls");
    assertEquals(280, limited);
    // another address is not held back by the first one's flood
    assertInstanceOf(AuthResult.Allowed.class, await(auth.verify("good", "doc-1", "10.2.2.2")));
    // and the bucket refills: 5 calls a second
    clock.advance(Duration.ofSeconds(1));
    for (int i = 0; i < 5; i++) await(auth.verify(UUID.randomUUID().toString(), "doc-1", "10.1.1.1"));
    assertEquals(26, convex.requestsTo(ConvexStandIn.VERIFY));
  }

  @Test
  void verifyCallsInFlightAreBoundedAndThoseBeyondAre503() throws Exception {
    LimitedAuthenticator auth = limited(8, 100, 100);
    convex.delayResponses(Duration.ofMillis(800));
    List<CompletionStage<AuthResult>> all = new ArrayList<>();
    for (int i = 0; i < 50; i++) all.add(auth.verify(UUID.randomUUID().toString(), "doc-1", "10.0.0." + i));
    int busy = 0;
    for (CompletionStage<AuthResult> s : all) {
      if (await(s) instanceof AuthResult.Unavailable u) {
        assertTrue(u.message().contains("in flight"), u.message());
        busy++;
      }
    }
    assertEquals(8, convex.requestsTo(ConvexStandIn.VERIFY), "verify calls made at once");
    assertEquals(42, busy);
    // once they are answered, the next one goes through
    assertInstanceOf(AuthResult.Allowed.class, await(auth.verify("good", "doc-1", "10.9.9.9")));
  }

  @Test
  void aRepeatedBadTokenIsOneVerifyCallUntilItsVerdictExpires() throws Exception {
    LimitedAuthenticator auth = limited(8, 100, 100);
    for (int i = 0; i < 10; i++) {
      AuthResult.Denied d = assertInstanceOf(AuthResult.Denied.class, await(auth.verify("bad", "doc-1", "10.0.0.1")));
      assertEquals(401, d.status());
    }
    assertEquals(1, convex.requestsTo(ConvexStandIn.VERIFY));
    clock.advance(Duration.ofSeconds(11));
    await(auth.verify("bad", "doc-1", "10.0.0.1"));
    assertEquals(2, convex.requestsTo(ConvexStandIn.VERIFY));
  }

  @Test
  void aReconnectWithACachedAllowedAnswerIsNeverLimited() throws Exception {
    LimitedAuthenticator auth = limited(1, 1, 1);
    assertInstanceOf(AuthResult.Allowed.class, await(auth.verify("good", "doc-1", "10.0.0.1"))); // the bucket is empty now
    for (int i = 0; i < 100; i++) {
      assertInstanceOf(AuthResult.Allowed.class, await(auth.verify("good", "doc-1", "10.0.0.1")));
    }
    assertEquals(1, convex.requestsTo(ConvexStandIn.VERIFY));
    AuthResult.Denied d = assertInstanceOf(AuthResult.Denied.class, await(auth.verify("other", "doc-1", "10.0.0.1")));
    assertEquals(429, d.status());
  }
}
