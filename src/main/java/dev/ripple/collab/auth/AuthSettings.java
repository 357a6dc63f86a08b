package dev.ripple.collab.auth;

import com.typesafe.config.Config;
import dev.ripple.collab.ConvexSettings;
import java.time.Duration;
import java.util.Optional;

/**
 * Auth settings, read once at start-up from {@code ripple.convex.*} and {@code ripple.auth.*}
 * (conf/application.conf). A blank CONVEX_SITE_URL counts as unset; the secret is trimmed.
 */
public record AuthSettings(Optional<ConvexSettings> convex, Duration requestTimeout, Duration cacheTtl, int cacheMaxEntries) {

  /** @throws IllegalStateException when the site URL is set without the secret, or is not a URL */
  public static AuthSettings from(Config root) {
    Config c = root.getConfig("ripple");
    return new AuthSettings(ConvexSettings.from(c), c.getDuration("auth.request-timeout"), c.getDuration("auth.cache-ttl"),
        c.getInt("auth.cache-max-entries"));
  }
}
