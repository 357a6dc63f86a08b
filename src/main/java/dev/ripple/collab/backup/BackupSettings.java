package dev.ripple.collab.backup;

import com.typesafe.config.Config;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Backup settings, read once at start-up from {@code ripple.convex.*} and {@code ripple.backup.*}
 * (conf/application.conf). A blank CONVEX_SITE_URL counts as unset; the secret is trimmed.
 */
public record BackupSettings(Optional<Convex> convex, Duration requestTimeout, Path localDir) {

  /** Where Convex's HTTP actions live and the shared secret they expect. */
  public record Convex(URI siteUrl, String secret) {
    @Override
    public String toString() {
      return "Convex[siteUrl=" + siteUrl + ", secret=<redacted>]";
    }
  }

  /** @throws IllegalStateException when the site URL is set without the secret, or is not a URL */
  public static BackupSettings from(Config root) {
    Config c = root.getConfig("ripple");
    return new BackupSettings(convex(c), c.getDuration("backup.request-timeout"), Path.of(c.getString("backup.local-dir")));
  }

  static Optional<Convex> convex(Config ripple) {
    String site = ripple.hasPath("convex.site-url") ? ripple.getString("convex.site-url").strip() : "";
    if (site.isEmpty()) {
      return Optional.empty();
    }
    String secret = ripple.hasPath("convex.secret") ? ripple.getString("convex.secret").strip() : "";
    if (secret.isEmpty()) {
      throw new IllegalStateException("CONVEX_SITE_URL (ripple.convex.site-url) is set to " + site
          + " but PARTYKIT_SECRET (ripple.convex.secret) is not: Convex needs the shared secret. Set PARTYKIT_SECRET,"
          + " or unset CONVEX_SITE_URL to run on local backups with auth off.");
    }
    return Optional.of(new Convex(siteUrl(site), secret));
  }

  /** An absolute http(s) URL without query or fragment, trailing slashes removed. */
  static URI siteUrl(String site) {
    URI uri;
    try {
      uri = new URI(site.replaceAll("/+$", ""));
    } catch (java.net.URISyntaxException e) {
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
