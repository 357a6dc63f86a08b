package dev.ripple.collab.config;

import com.typesafe.config.Config;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Optional;

/**
 * Where Convex's HTTP actions live ({@code ripple.convex.site-url}, CONVEX_SITE_URL) and the shared
 * secret they expect ({@code ripple.convex.secret}, PARTYKIT_SECRET). Backups and auth both read it.
 * A blank site URL counts as unset (embedded mode); the secret is trimmed.
 */
public record ConvexSettings(URI siteUrl, String secret) {

  @Override
  public String toString() {
    return "ConvexSettings[siteUrl=" + siteUrl + ", secret=<redacted>]";
  }

  /** @throws IllegalStateException when the site URL is set without the secret, or is not a URL */
  public static Optional<ConvexSettings> from(Config ripple) {
    String site = ripple.hasPath("convex.site-url") ? ripple.getString("convex.site-url").strip() : "";
    if (site.isEmpty()) return Optional.empty();
    String secret = ripple.hasPath("convex.secret") ? ripple.getString("convex.secret").strip() : "";
    if (secret.isEmpty()) {
      throw new IllegalStateException("CONVEX_SITE_URL (ripple.convex.site-url) is set to " + site
          + " but PARTYKIT_SECRET (ripple.convex.secret) is not: Convex needs the shared secret. Set PARTYKIT_SECRET,"
          + " or unset CONVEX_SITE_URL to run on embedded defaults (local backups, auth off).");
    }
    return Optional.of(new ConvexSettings(siteUrl(site), secret));
  }

  /** An absolute http(s) URL without query or fragment, trailing slashes removed. */
  public static URI siteUrl(String site) {
    URI uri;
    try {
      uri = new URI(site.replaceAll("/+$", ""));
    } catch (URISyntaxException e) {
      throw new IllegalStateException("CONVEX_SITE_URL (ripple.convex.site-url) is not a URL: " + site, e);
    }
    boolean http = "https".equalsIgnoreCase(uri.getScheme()) || "http".equalsIgnoreCase(uri.getScheme());
    if (!http || uri.getHost() == null || uri.getRawQuery() != null || uri.getRawFragment() != null) {
      throw new IllegalStateException("CONVEX_SITE_URL (ripple.convex.site-url) must be an http(s) URL such as "
          + "https://<deployment>.convex.site, without query or fragment; got " + site);
    }
    return uri;
  }
}
