package dev.ripple.collab.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigResolveOptions;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class AuthenticatorFactoryTest {

  /** application.conf with overrides, resolved without the real environment (CONVEX_SITE_URL may be set there). */
  static Config config(String... keyValues) {
    Map<String, Object> overrides = new HashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) {
      overrides.put(keyValues[i], keyValues[i + 1]);
    }
    return ConfigFactory.parseMap(overrides)
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .resolve(ConfigResolveOptions.defaults().setUseSystemEnvironment(false));
  }

  @Test
  void withoutSiteUrlEveryoneMayWrite() throws Exception {
    Authenticator auth = Authenticator.fromConfig(config());
    assertInstanceOf(AllowAll.class, auth);
    assertEquals(new AuthResult.Allowed("anonymous", Access.WRITE),
        auth.verify(null, "doc-1").toCompletableFuture().get(1, TimeUnit.SECONDS));
  }

  @Test
  void withSiteUrlAndSecretConvexVerifiesBehindTheFloodLimits() {
    assertInstanceOf(LimitedAuthenticator.class, Authenticator.fromConfig(config(
        "ripple.convex.site-url", "https://happy-otter-123.convex.site", "ripple.convex.secret", "s")));
  }

  @Test
  void siteUrlWithoutSecretIsRefusedNamingBothVariables() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Authenticator.fromConfig(config("ripple.convex.site-url", "https://happy-otter-123.convex.site")));
    assertTrue(e.getMessage().contains("CONVEX_SITE_URL") && e.getMessage().contains("PARTYKIT_SECRET"), e.getMessage());
  }

  @Test
  void settingsReadTheDefaults() {
    AuthSettings settings = AuthSettings.from(config());
    assertEquals(Duration.ofSeconds(5), settings.requestTimeout());
    assertEquals(Duration.ofSeconds(60), settings.cacheTtl());
    assertEquals(10_000, settings.cacheMaxEntries());
  }
}
