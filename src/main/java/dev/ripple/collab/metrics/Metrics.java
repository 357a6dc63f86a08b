package dev.ripple.collab.metrics;

import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import akka.actor.typed.javadsl.Adapter;
import akka.actor.typed.javadsl.AskPattern;
import akka.cluster.Cluster;
import akka.cluster.ClusterActorRefProvider;
import akka.cluster.MemberStatus;
import akka.cluster.sharding.ShardRegion;
import akka.cluster.sharding.typed.ClusterShardingQuery;
import akka.cluster.sharding.typed.GetShardRegionState;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * The node's metrics, served at {@code /metrics} in Prometheus text format through the Prometheus
 * Java client: rooms, connections, updates and bytes, journal write latency, backup saves and their
 * latency, fan-out latency (the {@code ripple_*} names operators already scrape), this node's view of
 * the cluster and the shards it hosts, and the client's JVM and process metrics. One per ActorSystem
 * (an Akka extension, with its own registry), so several nodes in one JVM (tests) keep apart.
 *
 * <p>The counting stays on plain atomics that rooms and sessions update; the registry reads them
 * when scraped.
 */
public final class Metrics implements Extension {
  public static final ExtensionId<Metrics> ID = new ExtensionId<>() {
    @Override
    public Metrics createExtension(ActorSystem<?> system) {
      return new Metrics(system);
    }
  };

  public static Metrics get(ActorSystem<?> system) {
    return system.registerExtension(ID);
  }

  /** Prometheus text exposition format 0.0.4, what {@link #render()} writes. */
  public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

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
  /** Updates refused because they would take their room's document past ripple.limits.max-document-bytes. */
  public final LongAdder updatesRefusedDocumentTooLarge = new LongAdder();
  public final LongAdder backupSavesOk = new LongAdder();
  public final LongAdder backupSavesFailed = new LongAdder();
  /** Saves the backup refused because it keeps a snapshot covering more updates (the room then merges it). */
  public final LongAdder backupSavesRefused = new LongAdder();
  public final LongAdder backupLoads = new LongAdder();
  public final LongAdder connectionsClosedByServer = new LongAdder();
  /** Time from receiving an update to its journal write being confirmed. */
  public final Histogram journalWriteSeconds;
  /** Time from receiving an update to handing its frame to every other connection (after the journal). */
  public final Histogram fanOutSeconds;
  public final Histogram backupSaveSeconds;

  private final ActorSystem<?> system;
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
  /** Shards and rooms this node's shard region reported at the last {@link #refreshSharding}; -1 before. */
  private volatile long shards = -1;
  private volatile long shardRooms = -1;

  private Metrics(ActorSystem<?> system) {
    this.system = system;
    gauge("ripple_rooms_active", "Rooms running on this node.", roomsActive::get);
    gauge("ripple_connections", "Open WebSocket connections on this node.", connections::get);
    counter("ripple_updates_applied_total", "Client updates journaled and applied.", updatesApplied::sum);
    counter("ripple_update_bytes_total", "Bytes of client updates journaled.", updateBytes::sum);
    counter("ripple_journal_writes_total", "Journal writes of client updates (coalesced updates share one).", journalWrites::sum);
    counter("ripple_messages_dropped_total", "Room and session messages dropped by the system (dead letters, full queues).",
        messagesDropped::sum);
    counter("ripple_client_messages_dropped_total", "Client messages to a room dropped by the system (a WARN line each).",
        clientMessagesDropped::sum);
    counter("ripple_connections_refused_total", "Upgrades refused because the room was full.", connectionsRefused::sum);
    counter("ripple_updates_refused_document_too_large_total",
        "Updates refused because they would take their document past ripple.limits.max-document-bytes.",
        updatesRefusedDocumentTooLarge::sum);
    registry.register(CounterWithCallback.builder().name("ripple_backup_saves_total").help("Backup saves by result.")
        .labelNames("result")
        .callback(c -> {
          c.call(backupSavesOk.sum(), "ok");
          c.call(backupSavesFailed.sum(), "failed");
          c.call(backupSavesRefused.sum(), "kept_newer");
        }).build());
    counter("ripple_backup_loads_total", "Backup loads: cold starts, and catch-ups after a save refused for a newer backup.", backupLoads::sum);
    counter("ripple_connections_closed_by_server_total", "Connections the server closed (bad input, slow, moved).",
        connectionsClosedByServer::sum);
    journalWriteSeconds = new Histogram(registry, "ripple_journal_write_seconds", "From receiving an update to its journal write.");
    fanOutSeconds = new Histogram(registry, "ripple_fanout_seconds", "From receiving an update to sending it to the room's other connections.");
    backupSaveSeconds = new Histogram(registry, "ripple_backup_save_seconds", "Duration of backup saves.");

    // this node's view of the cluster (every mode runs a cluster, of one in single mode)
    registry.register(GaugeWithCallback.builder().name("ripple_cluster_members")
        .help("Cluster members by status, as this node sees them.").labelNames("status")
        .callback(g -> {
          Cluster cluster = classicCluster();
          if (cluster == null) return;
          Map<String, Integer> byStatus = new TreeMap<>();
          for (String s : MEMBER_STATUSES) byStatus.put(s, 0);
          cluster.state().getMembers().forEach(m -> byStatus.merge(status(m.status()), 1, Integer::sum));
          byStatus.forEach((s, n) -> g.call(n, s));
        }).build());
    registry.register(GaugeWithCallback.builder().name("ripple_cluster_unreachable_members")
        .help("Members this node's failure detector considers unreachable.")
        .callback(g -> {
          Cluster cluster = classicCluster();
          if (cluster != null) g.call(cluster.state().getUnreachable().size());
        }).build());
    registry.register(GaugeWithCallback.builder().name("ripple_cluster_leader")
        .help("1 if this node is the cluster's leader, else 0.")
        .callback(g -> {
          Cluster cluster = classicCluster();
          if (cluster != null) g.call(cluster.selfAddress().equals(cluster.state().getLeader()) ? 1 : 0);
        }).build());
    registry.register(GaugeWithCallback.builder().name("ripple_cluster_self_up")
        .help("1 while this node is Up in the cluster, else 0.")
        .callback(g -> {
          Cluster cluster = classicCluster();
          if (cluster != null) g.call(cluster.selfMember().status() == MemberStatus.up() ? 1 : 0);
        }).build());
    gauge("ripple_shards", "Room shards hosted on this node (from its shard region, as of this scrape).", () -> shards);
    gauge("ripple_shard_rooms", "Rooms in the shards hosted on this node (from its shard region, as of this scrape).", () -> shardRooms);

    JvmMetrics.builder().register(registry); // jvm_* and process_* (CPU, memory, open files, GC, threads)
  }

  private static final String[] MEMBER_STATUSES = {"joining", "weakly_up", "up", "leaving", "exiting", "down", "removed"};

  private static String status(MemberStatus s) {
    // Up, WeaklyUp, ... as Prometheus-style label values: up, weakly_up, ...
    return s.toString().replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
  }

  /** The classic Cluster extension, or null where the system has no cluster (unit tests on a local provider). */
  private Cluster classicCluster() {
    akka.actor.ActorSystem classic = Adapter.toClassic(system);
    if (!(((ExtendedActorSystem) classic).provider() instanceof ClusterActorRefProvider)) return null;
    return Cluster.get(classic);
  }

  private void gauge(String name, String help, LongSupplier value) {
    registry.register(GaugeWithCallback.builder().name(name).help(help).callback(g -> {
      long v = value.getAsLong();
      if (v >= 0) g.call(v);
    }).build());
  }

  private void counter(String name, String help, LongSupplier value) {
    registry.register(CounterWithCallback.builder().name(name).help(help).callback(c -> c.call(value.getAsLong())).build());
  }

  /**
   * Asks this node's shard region of {@code typeKey} which shards and entities it hosts, for
   * {@code ripple_shards} and {@code ripple_shard_rooms}; completes (without failing) once it
   * answered or {@code timeout} passed, when the gauges keep their previous values.
   */
  public CompletionStage<Void> refreshSharding(EntityTypeKey<?> typeKey, Predicate<String> countsAsRoom, Duration timeout) {
    CompletionStage<ShardRegion.CurrentShardRegionState> asked;
    try {
      ActorRef<ClusterShardingQuery> query = ClusterSharding.get(system).shardState();
      asked = AskPattern.ask(query, (ActorRef<ShardRegion.CurrentShardRegionState> replyTo)
          -> new GetShardRegionState(typeKey, replyTo), timeout, system.scheduler());
    } catch (RuntimeException noSharding) {
      return CompletableFuture.completedFuture(null);
    }
    return asked.handle((state, failure) -> {
      if (state != null) {
        shards = state.getShards().size();
        shardRooms = state.getShards().stream().flatMap(s -> s.getEntityIds().stream()).filter(countsAsRoom).count();
      }
      return null;
    });
  }

  /** Every metric of this node in Prometheus text exposition format 0.0.4 ({@link #CONTENT_TYPE}). */
  public String render() {
    ByteArrayOutputStream out = new ByteArrayOutputStream(16384);
    try {
      writer.write(out, registry.scrape());
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a ByteArrayOutputStream does not throw
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  /** A latency histogram in seconds with fixed (classic) buckets, registered under its name. */
  public static final class Histogram {
    static final double[] BUCKETS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    private final io.prometheus.metrics.core.metrics.Histogram histogram;
    private final LongAdder count = new LongAdder();

    Histogram(PrometheusRegistry registry, String name, String help) {
      histogram = io.prometheus.metrics.core.metrics.Histogram.builder().name(name).help(help)
          .classicOnly().classicUpperBounds(BUCKETS).build();
      registry.register(histogram);
    }

    public void observeNanos(long nanos) {
      histogram.observe(nanos / 1e9);
      count.increment();
    }

    public long count() {
      return count.sum();
    }
  }
}
