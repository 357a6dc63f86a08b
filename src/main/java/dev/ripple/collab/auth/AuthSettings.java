package dev.ripple.collab.auth;

import com.typesafe.config.Config;
import dev.ripple.collab.config.ConvexSettings;
import java.time.Duration;
import java.util.Optional;

/**
 * Auth settings, read once at start-up from {@code ripple.convex.*} and {@code ripple.auth.*}
 * (conf/application.conf). A blank CONVEX_SITE_URL counts as unset; the secret is trimmed.
 */
public record AuthSettings(Optional<ConvexSettings> convex, Duration requestTimeout, Duration cacheTtl, int cacheMaxEntries,
    Limits limits, Duration reverifyInterval) {

  /**
   * What a flood of upgrades may cost the app's Convex deployment: verify calls in flight at once,
   * a token bucket of verify calls per client address, and how long a 401/403 verdict is reused.
   */
  public record Limits(int maxConcurrent, double perAddressPerSecond, int perAddressBurst, int maxAddresses,
      Duration deniedCacheTtl, boolean trustForwardedFor) {}

  /** @throws IllegalStateException when the site URL is set without the secret, or is not a URL */
  public static AuthSettings from(Config root) {
    Config c = root.getConfig("ripple");
    Config v = c.getConfig("auth.verify");
    return new AuthSettings(ConvexSettings.from(c), c.getDuration("auth.request-timeout"), c.getDuration("auth.cache-ttl"),
        c.getInt("auth.cache-max-entries"), new Limits(v.getInt("max-concurrent"), v.getDouble("per-address-rate"),
            v.getInt("per-address-burst"), v.getInt("max-addresses"), v.getDuration("denied-cache-ttl"),
            v.getBoolean("trust-forwarded-for")), c.getDuration("auth.reverify-interval"));
  }
}
