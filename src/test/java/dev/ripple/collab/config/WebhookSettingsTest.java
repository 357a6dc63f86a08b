package dev.ripple.collab.config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigResolveOptions;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Webhook settings as the environment gives them: the signing key is the webhook's own, never the Convex secret. */
class WebhookSettingsTest {
  /**
   * application.conf resolved against these stand-ins for environment variables (root-level keys are
   * what its {@code ${?VAR}} substitutions find first), without the real environment.
   */
  static Config withEnvironment(String... keyValues) {
    Map<String, Object> env = new HashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) env.put(keyValues[i], keyValues[i + 1]);
    return ConfigFactory.parseMap(env)
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .resolve(ConfigResolveOptions.defaults().setUseSystemEnvironment(false))
        .getConfig("ripple");
  }

  @Test
  void withoutAUrlWebhooksAreOff() {
    assertEquals(Optional.empty(), WebhookSettings.from(withEnvironment("COLLAB_WEBHOOK_SECRET", "s")));
  }

  @Test
  void aUrlWithoutItsOwnSecretFailsStartUpEvenWhenPartykitSecretIsSet() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> WebhookSettings.from(withEnvironment(
        "COLLAB_WEBHOOK_URL", "https://app.example.com/hooks/ripple", "PARTYKIT_SECRET", "the-convex-credential")));
    assertTrue(e.getMessage().contains("COLLAB_WEBHOOK_URL") && e.getMessage().contains("COLLAB_WEBHOOK_SECRET"), e.getMessage());
    assertTrue(!e.getMessage().contains("the-convex-credential"), e.getMessage());
  }

  @Test
  void aUrlWithoutAnySecretFailsStartUp() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> WebhookSettings.from(withEnvironment("COLLAB_WEBHOOK_URL", "https://app.example.com/hooks/ripple")));
    assertTrue(e.getMessage().contains("COLLAB_WEBHOOK_SECRET"), e.getMessage());
  }

  @Test
  void theConvexSecretAsTheWebhookKeyFailsStartUp() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> WebhookSettings.from(withEnvironment(
        "COLLAB_WEBHOOK_URL", "https://app.example.com/hooks/ripple", "PARTYKIT_SECRET", "shared-credential-123",
        "COLLAB_WEBHOOK_SECRET", "shared-credential-123")));
    assertTrue(e.getMessage().contains("COLLAB_WEBHOOK_SECRET") && e.getMessage().contains("PARTYKIT_SECRET"), e.getMessage());
    assertTrue(!e.getMessage().contains("shared-credential-123"), e.getMessage());
  }

  @Test
  void aUrlWithItsOwnSecretSignsWithIt() {
    WebhookSettings s = WebhookSettings.from(withEnvironment("COLLAB_WEBHOOK_URL", "https://app.example.com/hooks/ripple",
        "PARTYKIT_SECRET", "the-convex-credential", "COLLAB_WEBHOOK_SECRET", "the-webhook-key")).orElseThrow();
    assertArrayEquals("the-webhook-key".getBytes(StandardCharsets.UTF_8), s.secret());
  }
}
