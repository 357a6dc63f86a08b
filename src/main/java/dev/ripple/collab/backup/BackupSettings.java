package dev.ripple.collab.backup;

import com.typesafe.config.Config;
import dev.ripple.collab.config.ConvexSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Backup settings, read once at start-up from {@code ripple.convex.*} and {@code ripple.backup.*}
 * (conf/application.conf). A blank CONVEX_SITE_URL counts as unset; the secret is trimmed.
 */
public record BackupSettings(Optional<ConvexSettings> convex, Duration requestTimeout, Path localDir) {

  /** @throws IllegalStateException when the site URL is set without the secret, or is not a URL */
  public static BackupSettings from(Config root) {
    Config c = root.getConfig("ripple");
    return new BackupSettings(ConvexSettings.from(c), c.getDuration("backup.request-timeout"), Path.of(c.getString("backup.local-dir")));
  }
}
