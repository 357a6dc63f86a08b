package dev.ripple.collab;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The node's counters, rendered in Prometheus text format at {@code /metrics}: rooms, connections,
 * updates and bytes, journal write latency, backup saves and their latency, fan-out latency. One
 * per ActorSystem (an Akka extension), so several nodes in one JVM (tests) keep apart.
 */
public final class Metrics implements Extension {
  public static final ExtensionId<Metrics> ID = new ExtensionId<>() {
    @Override
    public Metrics createExtension(ActorSystem<?> system) {
      return new Metrics();
    }
  };

  public static Metrics get(ActorSystem<?> system) {
    return system.registerExtension(ID);
  }

  public final AtomicLong roomsActive = new AtomicLong();
  public final AtomicLong connections = new AtomicLong();
  public final LongAdder updatesApplied = new LongAdder();
  public final LongAdder updateBytes = new LongAdder();
  /** Journal writes of client updates: fewer than updates when sessions coalesce (group commit). */
  public final LongAdder journalWrites = new LongAdder();
  /** Room or session messages the system dropped (dead letters, full queues), see DropWatch. */
  public final LongAdder messagesDropped = new LongAdder();
  /** Of those, client messages on their way to a room: edits lost unless the client resyncs. */
  public final LongAdder clientMessagesDropped = new LongAdder();
  /** Connections refused before the upgrade because their room was full. */
  public final LongAdder connectionsRefused = new LongAdder();
  public final LongAdder backupSavesOk = new LongAdder();
  public final LongAdder backupSavesFailed = new LongAdder();
  public final LongAdder backupLoads = new LongAdder();
  public final LongAdder connectionsClosedByServer = new LongAdder();
  /** Time from receiving an update to its journal write being confirmed. */
  public final Histogram journalWriteSeconds = new Histogram();
  /** Time from receiving an update to handing its frame to every other connection (after the journal). */
  public final Histogram fanOutSeconds = new Histogram();
  public final Histogram backupSaveSeconds = new Histogram();

  /** A latency histogram with fixed buckets (seconds), Prometheus style. */
  public static final class Histogram {
    static final double[] BUCKETS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    final LongAdder[] counts = new LongAdder[BUCKETS.length];
    final LongAdder count = new LongAdder();
    final java.util.concurrent.atomic.DoubleAdder sum = new java.util.concurrent.atomic.DoubleAdder();

    Histogram() {
      for (int i = 0; i < counts.length; i++) counts[i] = new LongAdder();
    }

    public void observeNanos(long nanos) {
      double s = nanos / 1e9;
      for (int i = 0; i < BUCKETS.length; i++) {
        if (s <= BUCKETS[i]) {
          counts[i].increment();
          break;
        }
      }
      count.increment();
      sum.add(s);
    }

    public long count() {
      return count.sum();
    }

    void render(StringBuilder out, String name, String help) {
      out.append("# HELP ").append(name).append(' ').append(help).append('\n');
      out.append("# TYPE ").append(name).append(" histogram\n");
      long cumulative = 0;
      for (int i = 0; i < BUCKETS.length; i++) {
        cumulative += counts[i].sum();
        out.append(name).append("_bucket{le=\"").append(BUCKETS[i]).append("\"} ").append(cumulative).append('\n');
      }
      out.append(name).append("_bucket{le=\"+Inf\"} ").append(count.sum()).append('\n');
      out.append(name).append("_sum ").append(sum.sum()).append('\n');
      out.append(name).append("_count ").append(count.sum()).append('\n');
    }
  }

  private static void gauge(StringBuilder out, String name, String help, long value) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(" gauge\n").append(name).append(' ').append(value).append('\n');
  }

  private static void counter(StringBuilder out, String name, String help, long value) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(" counter\n").append(name).append(' ').append(value).append('\n');
  }

  /** Prometheus text exposition format 0.0.4. */
  public String render() {
    StringBuilder out = new StringBuilder(2048);
    gauge(out, "ripple_rooms_active", "Rooms running on this node.", roomsActive.get());
    gauge(out, "ripple_connections", "Open WebSocket connections on this node.", connections.get());
    counter(out, "ripple_updates_applied_total", "Client updates journaled and applied.", updatesApplied.sum());
    counter(out, "ripple_update_bytes_total", "Bytes of client updates journaled.", updateBytes.sum());
    counter(out, "ripple_journal_writes_total", "Journal writes of client updates (coalesced updates share one).", journalWrites.sum());
    counter(out, "ripple_messages_dropped_total", "Room and session messages dropped by the system (dead letters, full queues).",
        messagesDropped.sum());
    counter(out, "ripple_client_messages_dropped_total", "Client messages to a room dropped by the system (a WARN line each).",
        clientMessagesDropped.sum());
    counter(out, "ripple_connections_refused_total", "Upgrades refused because the room was full.", connectionsRefused.sum());
    out.append("# HELP ripple_backup_saves_total Backup saves by result.\n# TYPE ripple_backup_saves_total counter\n");
    out.append("ripple_backup_saves_total{result=\"ok\"} ").append(backupSavesOk.sum()).append('\n');
    out.append("ripple_backup_saves_total{result=\"failed\"} ").append(backupSavesFailed.sum()).append('\n');
    counter(out, "ripple_backup_loads_total", "Cold-start backup loads.", backupLoads.sum());
    counter(out, "ripple_connections_closed_by_server_total", "Connections the server closed (bad input, slow, moved).",
        connectionsClosedByServer.sum());
    journalWriteSeconds.render(out, "ripple_journal_write_seconds", "From receiving an update to its journal write.");
    fanOutSeconds.render(out, "ripple_fanout_seconds", "From receiving an update to sending it to the room's other connections.");
    backupSaveSeconds.render(out, "ripple_backup_save_seconds", "Duration of backup saves.");
    return out.toString();
  }
}
