package dev.ripple.collab;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;

/**
 * The server's typed settings, read once at start-up from {@code ripple.*} (conf/application.conf).
 */
public record Settings(
    int httpPort,
    String bindHost,
    Path dataDir,
    Pattern roomIdPattern,
    long maxMessageBytes,
    int maxBatchChunks,
    int outboundQueueMessages,
    long maxPendingBytes,
    PersistenceMode persistenceMode,
    long historyMaxBytes,
    long historyMaxUpdates,
    int snapshotEvery,
    Alarms alarms,
    Sessions sessions) {

  /** A room's alarms: periodic and debounced saves, retries, load retries. */
  public record Alarms(Duration period, Duration debounce, Duration retryInitial, int retries, Duration retryLater,
      Duration loadRetryMax) {}

  /**
   * A session's link to its room: how often its Join is repeated until the room answers, how long
   * it waits in all, and how many client messages it holds meanwhile.
   */
  public record Sessions(Duration joinRetry, Duration joinTimeout, int maxHeldMessages) {}

  /** As y-partykit's persistence modes. */
  public enum PersistenceMode { SNAPSHOT, HISTORY }

  public static Settings from(Config root) {
    Config c = root.getConfig("ripple");
    return new Settings(
        c.getInt("http.port"),
        c.getString("http.bind-host"),
        Path.of(c.getString("data-dir")),
        Pattern.compile(c.getString("room-id-pattern")),
        c.getBytes("limits.max-message-bytes"),
        c.getInt("limits.max-batch-chunks"),
        c.getInt("limits.outbound-queue-messages"),
        c.getBytes("limits.max-pending-bytes"),
        PersistenceMode.valueOf(c.getString("persistence.mode").toUpperCase(java.util.Locale.ROOT)),
        c.getBytes("persistence.history.max-bytes"),
        c.getLong("persistence.history.max-updates"),
        c.getInt("persistence.snapshot-every"),
        new Alarms(c.getDuration("alarms.period"), c.getDuration("alarms.debounce"), c.getDuration("alarms.retry-initial"),
            c.getInt("alarms.retries"), c.getDuration("alarms.retry-later"), c.getDuration("alarms.load-retry-max")),
        new Sessions(c.getDuration("session.join-retry"), c.getDuration("session.join-timeout"), c.getInt("limits.outbound-queue-messages")));
  }

  public boolean validRoomId(String id) {
    return roomIdPattern.matcher(id).matches();
  }
}
