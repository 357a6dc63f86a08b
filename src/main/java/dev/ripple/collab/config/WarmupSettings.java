package dev.ripple.collab.config;

import com.typesafe.config.Config;
import java.time.Duration;

/** {@code ripple.warmup}. */
public record WarmupSettings(boolean enabled, boolean startShards, int rooms, int clientsPerRoom, int updatesPerClient,
    Duration timeout, Duration cleanupAfter) {
  public static WarmupSettings from(Config ripple) {
    Config c = ripple.getConfig("warmup");
    return new WarmupSettings(c.getBoolean("enabled"), c.getBoolean("start-shards"), c.getInt("rooms"), c.getInt("clients-per-room"),
        c.getInt("updates-per-client"), c.getDuration("timeout"), c.getDuration("cleanup-after"));
  }
}
