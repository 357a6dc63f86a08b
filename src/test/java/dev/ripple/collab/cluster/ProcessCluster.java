package dev.ripple.collab.cluster;

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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A Ripple cluster of separate JVM processes, started as a deployment starts them: {@code java
 * dev.ripple.collab.Main} with {@code COLLAB_MODE=cluster} and the COLLAB_* environment variables
 * (ports on 127.0.0.1, contact points, database), on one embedded PostgreSQL (zonky's real binaries)
 * run by this JVM. Nodes can be killed with SIGKILL, stopped with SIGTERM (coordinated shutdown:
 * a graceful leave) and started again on the same ports. Each node's output goes to its own log.
 */
final class ProcessCluster implements AutoCloseable {
  /** One node's fixed ports; its process changes when it is restarted. */
  static final class Node {
    final String name;
    final int httpPort, remotePort, managementPort;
    Process process;

    Node(String name, int httpPort, int remotePort, int managementPort) {
      this.name = name;
      this.httpPort = httpPort;
      this.remotePort = remotePort;
      this.managementPort = managementPort;
    }

    boolean running() {
      return process != null && process.isAlive();
    }

    @Override
    public String toString() {
      return name + "(http " + httpPort + ", pid " + (process == null ? "-" : process.pid()) + ")";
    }
  }

  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private final EmbeddedPostgres postgres;
  private final Path work;
  private final List<Node> nodes = new ArrayList<>();
  private final Map<String, String> extraProperties;
  /** Nodes that reach PostgreSQL through a proxy a test can cut, by name. */
  private final Map<String, TcpProxy> databaseProxies = new HashMap<>();
  /** Environment variables of every node (on top of the COLLAB_* this class sets), and of single nodes, by name. */
  private final Map<String, String> extraEnv = new HashMap<>();
  private final Map<String, Map<String, String>> nodeEnv = new HashMap<>();

  private ProcessCluster(EmbeddedPostgres postgres, Path work, Map<String, String> extraProperties) {
    this.postgres = postgres;
    this.work = work;
    this.extraProperties = extraProperties;
  }

  /**
   * PostgreSQL, then {@code size} node processes started at once (as docker compose starts them);
   * returns when every node's /ready answers 200. {@code properties} become -D options of every node.
   */
  static ProcessCluster start(String name, int size, Map<String, String> properties) throws Exception {
    return start(name, size, properties, Set.of());
  }

  /** As {@link #start(String, int, Map)}; the nodes named in {@code proxied} reach PostgreSQL through a {@link TcpProxy}. */
  static ProcessCluster start(String name, int size, Map<String, String> properties, Set<String> proxied) throws Exception {
    return start(name, size, properties, proxied, Map.of());
  }

  /** As above, with these environment variables for every node. */
  static ProcessCluster start(String name, int size, Map<String, String> properties, Set<String> proxied,
      Map<String, String> env) throws Exception {
    Path work = Files.createDirectories(Path.of("target", "cluster-process").toAbsolutePath())
        .resolve(name + "-" + System.currentTimeMillis());
    Files.createDirectories(work);
    ProcessCluster cluster = new ProcessCluster(EmbeddedPostgres.builder().start(), work, properties);
    cluster.extraEnv.putAll(env);
    try {
      for (int i = 1; i <= size; i++) cluster.nodes.add(new Node("node" + i, freePort(), freePort(), freePort()));
      for (String n : proxied) cluster.databaseProxies.put(n, new TcpProxy(cluster.postgres.getPort()));
      for (Node n : cluster.nodes) cluster.launch(n);
      for (Node n : cluster.nodes) cluster.awaitReady(n, Duration.ofSeconds(120));
      return cluster;
    } catch (Exception | Error e) {
      cluster.close();
      throw e;
    }
  }

  List<Node> nodes() {
    return List.copyOf(nodes);
  }

  Path work() {
    return work;
  }

  String httpPorts() {
    return nodes.stream().map(n -> Integer.toString(n.httpPort)).collect(Collectors.joining(","));
  }

  /** Starts the node's process (again, after a kill or stop) with the same ports and data directory. */
  void launch(Node n) throws IOException {
    if (n.running()) throw new IllegalStateException(n + " is running");
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    // surefire runs tests from a manifest-only jar; its full class path is in this property
    String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> cmd = new ArrayList<>(List.of(javaBin, "-Xmx512m", "-Xss4m", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.io.tmpdir=" + work));
    extraProperties.forEach((k, v) -> cmd.add("-D" + k + "=" + v));
    cmd.addAll(List.of("-cp", classPath, "dev.ripple.collab.Main"));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(work.resolve(n.name + ".log").toFile()));
    Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("COLLAB_") || k.startsWith("CONVEX_") || k.equals("PARTYKIT_SECRET"));
    env.put("COLLAB_MODE", "cluster");
    env.put("COLLAB_HOST", "127.0.0.1");
    env.put("COLLAB_BIND_HOST", "127.0.0.1");
    env.put("COLLAB_PORT", Integer.toString(n.httpPort));
    env.put("COLLAB_REMOTE_PORT", Integer.toString(n.remotePort));
    env.put("COLLAB_MANAGEMENT_PORT", Integer.toString(n.managementPort));
    env.put("COLLAB_CONTACT_POINTS", nodes.stream().map(m -> "127.0.0.1:" + m.managementPort).collect(Collectors.joining(",")));
    env.put("COLLAB_DATA_DIR", Files.createDirectories(work.resolve(n.name + "-data")).toString());
    TcpProxy proxy = databaseProxies.get(n.name);
    env.put("COLLAB_DB_URL", proxy == null ? postgres.getJdbcUrl("postgres", "postgres")
        : "jdbc:postgresql://127.0.0.1:" + proxy.port() + "/postgres?user=postgres");
    env.put("COLLAB_DB_USER", "postgres");
    env.put("COLLAB_DB_PASSWORD", "");
    env.putAll(extraEnv);
    env.putAll(nodeEnv.getOrDefault(n.name, Map.of()));
    Files.writeString(work.resolve(n.name + ".log"), "---- start " + java.time.Instant.now() + "\n",
        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    n.process = pb.start();
  }

  /** Starts one more node, with these environment variables over everyone's; it joins through the others' contact points. */
  Node addNode(Map<String, String> env) throws IOException {
    Node n = new Node("node" + (nodes.size() + 1), freePort(), freePort(), freePort());
    nodes.add(n);
    nodeEnv.put(n.name, Map.copyOf(env));
    launch(n);
    return n;
  }

  /** Cuts the node's path to PostgreSQL (it must have been started with a proxy); the other nodes keep theirs. */
  void cutDatabase(Node n) {
    databaseProxies.get(n.name).cut();
  }

  /** SIGKILL: the process dies at once, without leaving the cluster or closing its sockets cleanly. */
  long kill(Node n) throws InterruptedException {
    n.process.destroyForcibly();
    long at = System.currentTimeMillis();
    if (!n.process.waitFor(10, TimeUnit.SECONDS)) throw new AssertionError(n + " did not die after SIGKILL");
    return at;
  }

  /** SIGTERM: coordinated shutdown (close sockets with 1012, hand rooms over, leave); waits until the process exits. */
  void stop(Node n, Duration max) throws InterruptedException {
    n.process.destroy();
    if (!n.process.waitFor(max.toMillis(), TimeUnit.MILLISECONDS)) {
      n.process.destroyForcibly();
      throw new AssertionError(n + " did not exit within " + max.toSeconds() + " s of SIGTERM; log " + work.resolve(n.name + ".log"));
    }
  }

  /** Polls GET /ready (Up in the cluster and the database answers) until 200. */
  void awaitReady(Node n, Duration max) throws Exception {
    String last = "no answer";
    long deadline = System.nanoTime() + max.toNanos();
    while (System.nanoTime() < deadline) {
      if (!n.running()) throw new AssertionError(n + " exited with " + n.process.exitValue() + "; log " + work.resolve(n.name + ".log"));
      try {
        HttpResponse<String> r = get(n.httpPort, "/ready");
        if (r.statusCode() == 200) return;
        last = r.statusCode() + " " + r.body();
      } catch (IOException e) {
        last = e.toString();
      }
      Thread.sleep(250);
    }
    throw new AssertionError(n + " was not ready within " + max.toSeconds() + " s; last answer: " + last + "; log " + work.resolve(n.name + ".log"));
  }

  private static final Pattern SHARD = Pattern.compile("\"shardId\"\\s*:\\s*\"([^\"]+)\"");

  /** The shards of the Room entity this node hosts, from Akka Management's GET /cluster/shards/Room. */
  Set<String> shardsOf(Node n) throws Exception {
    HttpResponse<String> r = get(n.managementPort, "/cluster/shards/Room");
    if (r.statusCode() != 200) throw new AssertionError("GET /cluster/shards/Room on " + n + ": " + r.statusCode() + " " + r.body());
    Set<String> shards = new TreeSet<>();
    Matcher m = SHARD.matcher(r.body());
    while (m.find()) shards.add(m.group(1));
    return shards;
  }

  private static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static int freePort() throws IOException {
    return dev.ripple.collab.testkit.TestServers.freePort();
  }

  /** SIGTERM to every node at once, SIGKILL to any still running after 40 s, then PostgreSQL. */
  @Override
  public void close() throws Exception {
    for (Node n : nodes) if (n.running()) n.process.destroy();
    for (Node n : nodes) {
      if (n.process != null && !n.process.waitFor(40, TimeUnit.SECONDS)) n.process.destroyForcibly();
    }
    databaseProxies.values().forEach(TcpProxy::close);
    postgres.close();
  }

  static Map<String, String> properties(String... kv) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i + 1 < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
    return m;
  }
}
