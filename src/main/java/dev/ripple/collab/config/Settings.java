package dev.ripple.collab.config;

import com.typesafe.config.Config;
import dev.ripple.collab.protocol.Presence;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
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
    long outboundQueueBytes,
    int maxConnectionsPerRoom,
    long maxPendingBytes,
    PersistenceMode persistenceMode,
    long historyMaxBytes,
    long historyMaxUpdates,
    int snapshotEvery,
    Alarms alarms,
    Sessions sessions,
    Window window,
    PresenceLimits presence,
    Duration headerTimeout,
    long maxDocumentBytes,
    RoomRestart roomRestart,
    long maxBufferedBytes) {

  /** A room's alarms: periodic and debounced saves, retries, load retries. */
  public record Alarms(Duration period, Duration debounce, Duration retryInitial, int retries, Duration retryLater,
      Duration loadRetryMax) {}

  /**
   * A session's link to its room: how often its Join is repeated until the room answers, how long
   * it waits in all, and how many client messages it holds meanwhile.
   */
  public record Sessions(Duration joinRetry, Duration joinTimeout, Duration closeTimeout, Duration rejoinTimeout) {}

  /**
   * Flow control between a session and its room: at most {@code messages} messages and
   * {@code bytes} bytes in flight (sent, not yet acknowledged by the room; one message always may
   * go, whatever its size), and at most {@code waitingMessages} coalesced messages and
   * {@code waitingBytes} bytes waiting in the session before it stops reading the socket.
   */
  public record Window(int messages, long bytes, int waitingMessages, long waitingBytes) {}

  /**
   * The room's backstop: after an exception it does not expect, a room restarts (recovering from its
   * journal) after a backoff doubling from {@code minBackoff} to {@code maxBackoff}, each stretched by
   * up to {@code randomFactor} at random.
   */
  public record RoomRestart(Duration minBackoff, Duration maxBackoff, double randomFactor) {}

  /** Awareness limits per connection, and how long a room gathers awareness changes before it relays them. */
  public record PresenceLimits(int maxIdsPerConnection, int maxStateBytes, Duration relayInterval) {}

  /**
   * Presence limits as the protocol applies them. An update may hold the states of everyone in a room
   * (y-websocket's provider sends back every change it receives): connections per room x ids per connection.
   */
  public Presence.Limits presenceLimits() {
    long entries = (long) maxConnectionsPerRoom * presence.maxIdsPerConnection();
    return new Presence.Limits(presence.maxIdsPerConnection(), presence.maxStateBytes(),
        (int) Math.min(Integer.MAX_VALUE, entries));
  }

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
        c.getBytes("limits.outbound-queue-bytes"),
        c.getInt("limits.max-connections-per-room"),
        c.getBytes("limits.max-pending-bytes"),
        PersistenceMode.valueOf(c.getString("persistence.mode").toUpperCase(Locale.ROOT)),
        c.getBytes("persistence.history.max-bytes"),
        c.getLong("persistence.history.max-updates"),
        c.getInt("persistence.snapshot-every"),
        new Alarms(c.getDuration("alarms.period"), c.getDuration("alarms.debounce"), c.getDuration("alarms.retry-initial"),
            c.getInt("alarms.retries"), c.getDuration("alarms.retry-later"), c.getDuration("alarms.load-retry-max")),
        new Sessions(c.getDuration("session.join-retry"), c.getDuration("session.join-timeout"), c.getDuration("session.close-timeout"),
            c.getDuration("session.rejoin-timeout")),
        new Window(c.getInt("limits.window.messages"), c.getBytes("limits.window.bytes"),
            c.getInt("limits.window.waiting-messages"), c.getBytes("limits.window.waiting-bytes")),
        new PresenceLimits(c.getInt("presence.max-ids-per-connection"), (int) Math.min(Integer.MAX_VALUE, c.getBytes("presence.max-state-bytes")),
            c.getDuration("presence.relay-interval")),
        c.getDuration("limits.header-timeout"),
        c.getBytes("limits.max-document-bytes"),
        new RoomRestart(c.getDuration("room-restart.min-backoff"), c.getDuration("room-restart.max-backoff"),
            c.getDouble("room-restart.random-factor")),
        c.getBytes("limits.max-buffered-bytes"));
  }

  /**
   * The most commands a room may have to hold at once (Akka's stash, while it writes to the journal
   * or loads its backup): each connection has at most a window of messages in flight plus its Join
   * repeats, and a few commands of the room's own. A room sized by this never drops a command.
   */
  public int roomStashCapacity() {
    long joins = sessions.joinTimeout().toMillis() / Math.max(1, sessions.joinRetry().toMillis()) + 2;
    // + Leave, the room's watch of the session, and after a rejoin the sync request the session makes for its client
    long perConnection = window.messages() + joins + 3;
    return (int) Math.min(Integer.MAX_VALUE, maxConnectionsPerRoom * perConnection + 1024);
  }

  public boolean validRoomId(String id) {
    return roomIdPattern.matcher(id).matches();
  }
}
