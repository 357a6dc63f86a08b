package dev.ripple.collab.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigResolveOptions;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotBackupFactoryTest {
  @TempDir
  Path dataDir;

  /** application.conf with overrides, resolved without the real environment (CONVEX_SITE_URL may be set there). */
  Config config(String... keyValues) {
    Map<String, Object> overrides = new HashMap<>(Map.of("ripple.data-dir", dataDir.toString()));
    for (int i = 0; i < keyValues.length; i += 2) {
      overrides.put(keyValues[i], keyValues[i + 1]);
    }
    return ConfigFactory.parseMap(overrides)
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .resolve(ConfigResolveOptions.defaults().setUseSystemEnvironment(false));
  }

  @Test
  void withoutSiteUrlBackupsGoToTheLocalDirectoryUnderTheDataDir() {
    SnapshotBackup backup = SnapshotBackup.fromConfig(config());
    LocalDirectoryBackup local = assertInstanceOf(LocalDirectoryBackup.class, backup);
    assertEquals(dataDir.resolve("backups"), local.dir());
  }

  @Test
  void blankSiteUrlCountsAsUnset() {
    assertInstanceOf(LocalDirectoryBackup.class, SnapshotBackup.fromConfig(config("ripple.convex.site-url", " ")));
  }

  @Test
  void withSiteUrlAndSecretBackupsGoToConvex() {
    SnapshotBackup backup = SnapshotBackup.fromConfig(config(
        "ripple.convex.site-url", "https://happy-otter-123.convex.site/", "ripple.convex.secret", "s"));
    ConvexBackup convex = assertInstanceOf(ConvexBackup.class, backup);
    assertEquals(URI.create("https://happy-otter-123.convex.site/collaboration/snapshot?roomId=doc-1"),
        convex.snapshotUri("doc-1"));
  }

  @Test
  void siteUrlWithoutSecretIsRefusedNamingBothVariables() {
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> SnapshotBackup.fromConfig(config("ripple.convex.site-url", "https://happy-otter-123.convex.site")));
    assertTrue(e.getMessage().contains("CONVEX_SITE_URL") && e.getMessage().contains("PARTYKIT_SECRET"), e.getMessage());
  }

  @Test
  void siteUrlThatIsNotAnHttpUrlIsRefused() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> SnapshotBackup.fromConfig(
        config("ripple.convex.site-url", "happy-otter-123.convex.site", "ripple.convex.secret", "s")));
    assertTrue(e.getMessage().contains("CONVEX_SITE_URL"), e.getMessage());
  }

  @Test
  void settingsReadTheDefaults() {
    BackupSettings settings = BackupSettings.from(config(
        "ripple.convex.site-url", "https://x.convex.site", "ripple.convex.secret", " hunter2\n"));
    assertEquals(Duration.ofSeconds(10), settings.requestTimeout());
    assertEquals("hunter2", settings.convex().orElseThrow().secret());
    assertTrue(!settings.toString().contains("hunter2") && settings.toString().contains("<redacted>"), settings.toString());
  }
}
