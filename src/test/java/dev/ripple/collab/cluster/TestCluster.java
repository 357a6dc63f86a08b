package dev.ripple.collab.cluster;

import akka.actor.Address;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import akka.cluster.sharding.ShardRegion;
import akka.cluster.sharding.typed.GetClusterShardingStats;
import akka.cluster.sharding.typed.GetShardRegionState;
import akka.cluster.sharding.typed.HashCodeMessageExtractor;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.typed.Cluster;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.Main;
import dev.ripple.collab.room.RoomProtocol;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;

/**
 * A Ripple cluster in this JVM: one embedded PostgreSQL (zonky's real binaries) and several server
 * nodes started with {@link Main#start} in cluster mode, each with its own HTTP, Artery and
 * management port on 127.0.0.1 and its own data directory. Nodes find each other as in production:
 * Akka Management's Cluster Bootstrap with config discovery over their management ports.
 */
final class TestCluster implements AutoCloseable {
  /** One running node. */
  record Node(String name, int httpPort, int remotePort, int managementPort, Main.Server server) {
    ActorSystem<Void> system() {
      return server.system();
    }

    Address address() {
      return Cluster.get(system()).selfMember().address();
    }

    @Override
    public String toString() {
      return name + "(http " + httpPort + ", artery " + remotePort + ")";
    }
  }

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private final EmbeddedPostgres postgres;
  private final Path work;
  private final List<Node> nodes = new ArrayList<>();
  private int started;

  private TestCluster(EmbeddedPostgres postgres, Path work) {
    this.postgres = postgres;
    this.work = work;
  }

  /** PostgreSQL, then {@code size} nodes that form one cluster; returns once every node's /ready answers 200. */
  static TestCluster start(int size) throws Exception {
    Path work = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "cluster-test");
    EmbeddedPostgres pg = EmbeddedPostgres.builder().start();
    TestCluster cluster = new TestCluster(pg, work);
    try {
      List<int[]> ports = new ArrayList<>();
      for (int i = 0; i < size; i++) ports.add(new int[] {freePort(), freePort(), freePort()});
      List<Integer> contacts = ports.stream().map(p -> p[2]).toList();
      // one after the other: Main.start creates the tables, and concurrent CREATE TABLE IF NOT
      // EXISTS can collide in PostgreSQL; start() returns before the cluster has formed
      for (int[] p : ports) cluster.startNode(p[0], p[1], p[2], contacts);
      for (Node n : cluster.nodes()) cluster.awaitReady(n, Duration.ofSeconds(60));
      return cluster;
    } catch (Exception | Error e) {
      cluster.close();
      throw e;
    }
  }

  /** Running nodes, oldest first. */
  synchronized List<Node> nodes() {
    return List.copyOf(nodes);
  }

  /** A new node that joins the running cluster (its contact points: every running node and itself); waits for /ready. */
  Node addNode() throws Exception {
    int http = freePort(), remote = freePort(), management = freePort();
    List<Integer> contacts = new ArrayList<>(nodes().stream().map(Node::managementPort).toList());
    contacts.add(management);
    Node n = startNode(http, remote, management, contacts);
    awaitReady(n, Duration.ofSeconds(60));
    return n;
  }

  /** Adds nodes until {@code size} are running (a test that stopped one leaves the next its usual cluster). */
  void ensureSize(int size) throws Exception {
    while (nodes().size() < size) addNode();
  }

  private Node startNode(int http, int remote, int management, List<Integer> contacts) throws Exception {
    String name;
    synchronized (this) {
      name = "node" + (++started);
    }
    Path dataDir = Files.createDirectories(work.resolve(name));
    Node n = new Node(name, http, remote, management, Main.start(config(http, remote, management, dataDir, contacts)));
    synchronized (this) {
      nodes.add(n);
    }
    return n;
  }

  /**
   * cluster.conf as {@code COLLAB_MODE=cluster} loads it, with this node's ports on 127.0.0.1 and
   * the embedded database, resolved after overriding (bind-hostname and the backup directory derive
   * from the overridden keys). The bootstrap's config discovery lists the contact points exactly as
   * Main does for {@code COLLAB_CONTACT_POINTS}.
   */
  private Config config(int http, int remote, int management, Path dataDir, List<Integer> contacts) {
    Map<String, Object> overrides = new HashMap<>();
    overrides.put("ripple.http.port", http);
    overrides.put("ripple.http.bind-host", "127.0.0.1");
    overrides.put("ripple.data-dir", dataDir.toString());
    overrides.put("ripple.alarms.debounce", "2s");
    overrides.put("akka.remote.artery.canonical.hostname", "127.0.0.1");
    overrides.put("akka.remote.artery.canonical.port", remote);
    overrides.put("akka.management.http.hostname", "127.0.0.1");
    overrides.put("akka.management.http.port", management);
    // every node is on 127.0.0.1: without this the bootstrap keeps only the contact point on its own
    // management port (it disambiguates several ports of one host by the fallback port)
    overrides.put("akka.management.cluster.bootstrap.contact-point.filter-on-fallback-port", false);
    overrides.put("akka-persistence-jdbc.shared-databases.slick.db.url", postgres.getJdbcUrl("postgres", "postgres"));
    overrides.put("akka-persistence-jdbc.shared-databases.slick.db.user", "postgres");
    overrides.put("akka-persistence-jdbc.shared-databases.slick.db.password", "");
    // the JVM is shared by every node and the test runner: a leaving node stops its ActorSystem only
    overrides.put("akka.coordinated-shutdown.exit-jvm", "off");
    overrides.put("akka.coordinated-shutdown.terminate-actor-system", "on");
    String endpoints = contacts.stream().map(p -> "{host = \"127.0.0.1\", port = " + p + "}").collect(Collectors.joining(", "));
    Config discovery = ConfigFactory.parseString("akka.discovery.config.services.ripple.endpoints = [" + endpoints + "]");
    return ConfigFactory.parseMap(overrides)
        .withFallback(discovery)
        .withFallback(ConfigFactory.parseResources("cluster.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  /** Graceful leave: coordinated shutdown (unbind, close sockets with 1012, hand off shards, leave the cluster). */
  void stop(Node n) throws Exception {
    synchronized (this) {
      nodes.remove(n);
    }
    n.server().stop();
  }

  /** Polls GET /ready on the node's HTTP port until 200 (Up in the cluster and the database answers). */
  void awaitReady(Node n, Duration max) throws Exception {
    String last = "no answer";
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + n.httpPort() + "/ready"))
            .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) return;
        last = r.statusCode() + " " + r.body();
      } catch (IOException e) {
        last = e.toString();
      }
      Thread.sleep(250);
    }
    throw new AssertionError(n + " was not ready within " + max.toSeconds() + " s; last answer: " + last);
  }

  /** Addresses of the members this node sees as Up. */
  static Set<Address> upMembers(Node n) {
    return StreamSupport.stream(Cluster.get(n.system()).state().getMembers().spliterator(), false)
        .filter(m -> m.status() == MemberStatus.up())
        .map(Member::address)
        .collect(Collectors.toSet());
  }

  /** The rooms (among {@code roomIds}) each node runs right now, from each node's own shard region. */
  Map<Node, Set<String>> liveRooms(Collection<String> roomIds) throws Exception {
    Map<Node, Set<String>> out = new LinkedHashMap<>();
    for (Node n : nodes()) {
      ShardRegion.CurrentShardRegionState state = AskPattern.<akka.cluster.sharding.typed.ClusterShardingQuery, ShardRegion.CurrentShardRegionState>ask(
              ClusterSharding.get(n.system()).shardState(),
              replyTo -> new GetShardRegionState(RoomProtocol.ENTITY_TYPE_KEY, replyTo),
              Duration.ofSeconds(5), n.system().scheduler())
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
      Set<String> rooms = new TreeSet<>();
      for (ShardRegion.ShardState s : state.getShards()) {
        for (String id : s.getEntityIds()) if (roomIds.contains(id)) rooms.add(id);
      }
      out.put(n, rooms);
    }
    return out;
  }

  /** Which shards each member's region hosts, as the whole cluster reports it (asked through {@code via}). */
  static Map<Address, Set<String>> shardsByMember(Node via) throws Exception {
    ShardRegion.ClusterShardingStats stats = AskPattern.<akka.cluster.sharding.typed.ClusterShardingQuery, ShardRegion.ClusterShardingStats>ask(
            ClusterSharding.get(via.system()).shardState(),
            replyTo -> new GetClusterShardingStats(RoomProtocol.ENTITY_TYPE_KEY, Duration.ofSeconds(5), replyTo),
            Duration.ofSeconds(10), via.system().scheduler())
        .toCompletableFuture().get(15, TimeUnit.SECONDS);
    Map<Address, Set<String>> out = new HashMap<>();
    stats.getRegions().forEach((address, region) -> out.put(address, new TreeSet<>(region.getStats().keySet())));
    return out;
  }

  /** The shard a room belongs to, computed as the Room sharding does (the default extractor). */
  static String shardOf(Node n, String roomId) {
    int shards = n.system().settings().config().getInt("akka.cluster.sharding.number-of-shards");
    return new HashCodeMessageExtractor<RoomProtocol.Command>(shards).shardId(roomId);
  }

  static boolean eventually(Duration max, BooleanSupplier cond) throws InterruptedException {
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      if (cond.getAsBoolean()) return true;
      Thread.sleep(200);
    }
    return cond.getAsBoolean();
  }

  private static int freePort() throws IOException {
    return dev.ripple.collab.testkit.TestServers.freePort();
  }

  /** Stops every node (in parallel: their shutdowns hand shards to each other), then PostgreSQL. */
  @Override
  public void close() throws Exception {
    List<Thread> stops = new ArrayList<>();
    for (Node n : nodes()) {
      Thread t = new Thread(() -> {
        try {
          n.server().stop();
        } catch (Exception e) {
          System.err.println("stopping " + n + ": " + e);
        }
      }, "stop-" + n.name());
      t.start();
      stops.add(t);
    }
    for (Thread t : stops) t.join(TimeUnit.SECONDS.toMillis(40));
    synchronized (this) {
      nodes.clear();
    }
    postgres.close();
  }
}
