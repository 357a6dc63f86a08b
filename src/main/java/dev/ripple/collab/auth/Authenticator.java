package dev.ripple.collab.auth;

import com.typesafe.config.Config;
import dev.ripple.collab.config.ConvexSettings;
import java.time.Clock;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides whether a client token may open a room, before the WebSocket upgrade (PartyKit's
 * {@code onBeforeConnect}). The stage never completes exceptionally: every failure is an
 * {@link AuthResult.Unavailable}. {@link ConvexAuthenticator} in production; {@link AllowAll} only
 * when CONVEX_SITE_URL is unset (embedded dev mode).
 */
public interface Authenticator {

  /**
   * @param token the token the client sent ({@link ClientToken#extract}), or null / blank when none
   */
  CompletionStage<AuthResult> verify(String token, String roomId);

  /**
   * As {@link #verify(String, String)}, for a client at {@code clientAddress} (limits per address
   * apply where the authenticator has them: {@link LimitedAuthenticator}).
   */
  default CompletionStage<AuthResult> verify(String token, String roomId, String clientAddress) {
    return verify(token, roomId);
  }

  /**
   * The authenticator the configuration asks for: {@link ConvexAuthenticator} when
   * {@code ripple.convex.site-url} (CONVEX_SITE_URL) is set, which then requires
   * {@code ripple.convex.secret} (PARTYKIT_SECRET), else {@link AllowAll} with a loud warning.
   *
   * @throws IllegalStateException when the site URL is set without the secret, or is not a URL
   */
  static Authenticator fromConfig(Config config) {
    return fromSettings(AuthSettings.from(config));
  }

  /** As {@link #fromConfig(Config)}, from settings already read. */
  static Authenticator fromSettings(AuthSettings settings) {
    Logger log = LoggerFactory.getLogger(Authenticator.class);
    if (settings.convex().isPresent()) {
      ConvexSettings convex = settings.convex().get();
      log.info("tokens are verified by Convex at {}", convex.siteUrl());
      return new LimitedAuthenticator(new ConvexAuthenticator(convex.siteUrl(), convex.secret(), settings.requestTimeout(),
          settings.cacheTtl(), settings.cacheMaxEntries(), Clock.systemUTC(), ConvexAuthenticator.defaultClient(settings.requestTimeout())),
          settings.limits(), Clock.systemUTC());
    }
    log.warn("*** CONVEX_SITE_URL is not set: auth is OFF, every connection may read and write every room. "
        + "Set CONVEX_SITE_URL and PARTYKIT_SECRET in production. ***");
    return new AllowAll();
  }
}
