package dev.ripple.collab.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * docker-compose.yml run for real, as an operator runs it, with the stand-in images of
 * deploy/compose.local-images.yml: a Docker engine (scripts/docker-engine.sh installs and starts one
 * if none answers, and this class stops only the one it started), the stand-in base images
 * (scripts/local-images.sh), then {@code docker compose -f docker-compose.yml -f
 * deploy/compose.local-images.yml} commands under a project name of its own, with the balancer and
 * Prometheus published on 127.0.0.1 only. Every command's output, the logs of every container and
 * the time of each phase go to {@code target/compose-it/}.
 */
final class ComposeProject implements AutoCloseable {
  static final Path ROOT = Path.of(System.getProperty("ripple.project.dir", ".")).toAbsolutePath().normalize();
  static final Path WORK = ROOT.resolve("target").resolve("compose-it");
  static final String PROJECT = "ripplecomposeit";
  static final List<String> NODES = List.of("node1", "node2", "node3");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

  /**
   * What the test changes of the compose file's defaults, through the variables it reads. Three JVMs,
   * PostgreSQL, nginx, Prometheus and three dozen clients share the 2 cores of a CI machine: the
   * C1 compiler alone starts the JVMs in about half the CPU time, and a longer heartbeat pause keeps
   * a starved node from being downed (with the default 2 s, a run on a machine loaded by other builds
   * saw a node downed and restarted by its container's restart policy). The heap is bounded: with no
   * container memory limit, 75% of the host's memory is each JVM's default maximum.
   */
  static final Map<String, String> NODE_SETTINGS = Map.of(
      "RIPPLE_JAVA_OPTS", "-Xmx768m -XX:TieredStopAtLevel=1",
      "COLLAB_HEARTBEAT_PAUSE", "5s",
      "COLLAB_SBR_STABLE_AFTER", "3s");

  /** A finished command: its exit code and output (stdout and stderr together). */
  record Result(int exitCode, String output) {}

  final int lbPort;
  final int prometheusPort;
  private final List<String> compose;
  private final boolean engineStarted;
  private final Map<String, Long> phases = new LinkedHashMap<>();
  private final AtomicInteger commandNumber = new AtomicInteger();
  private final Thread cleanupOnExit = new Thread(this::cleanUp, "compose-it-cleanup");
  private boolean closed;

  private ComposeProject(List<String> compose, boolean engineStarted, int lbPort, int prometheusPort) {
    this.compose = compose;
    this.engineStarted = engineStarted;
    this.lbPort = lbPort;
    this.prometheusPort = prometheusPort;
  }

  /**
   * A Docker engine and the stand-in images, and no containers of this project left from an earlier
   * run; returns null (the caller skips) when not root and no engine answers.
   */
  static ComposeProject prepare() throws Exception {
    Files.createDirectories(WORK);
    long t0 = System.nanoTime();
    boolean root = "root".equals(System.getProperty("user.name"));
    if (!root && exec(List.of("docker", "info"), Map.of(), Duration.ofSeconds(30), "docker-info").exitCode() != 0) {
      return null;
    }
    Result engine = checked(List.of(ROOT.resolve("scripts/docker-engine.sh").toString(), "start", WORK.resolve("engine").toString()),
        Map.of(), Duration.ofMinutes(10), "engine-start");
    boolean started = engine.output().lines().anyMatch(l -> l.startsWith("started "));
    long engineMs = millisSince(t0);
    ComposeProject p = null;
    try {
      String composeCommand = checked(List.of(ROOT.resolve("scripts/docker-engine.sh").toString(), "compose"), Map.of(),
          Duration.ofSeconds(60), "compose-command").output().lines().filter(l -> l.startsWith("docker")).findFirst()
          .orElseThrow(() -> new AssertionError("scripts/docker-engine.sh compose printed no command"));
      // down -v first: a run that was killed may have left containers, which the engine restarts (restart: unless-stopped)
      ComposeProject cleaner = new ComposeProject(List.of(composeCommand.split(" ")), started, 1999, 9090);
      cleaner.compose(Duration.ofMinutes(3), "down", "-v", "--remove-orphans");
      p = new ComposeProject(cleaner.compose, started, port(1999), port(9090));
      Runtime.getRuntime().addShutdownHook(p.cleanupOnExit);
      p.phases.put("engine", engineMs);
      long t1 = System.nanoTime();
      // the script tries a failed debootstrap or image build twice (Debian's mirror may hiccup)
      checked(List.of(ROOT.resolve("scripts/local-images.sh").toString()), Map.of(), Duration.ofMinutes(30), "local-images");
      p.phases.put("local-images", millisSince(t1));
      return p;
    } catch (Throwable e) {
      if (p != null) p.close();
      else if (started) stopEngine();
      throw e;
    }
  }

  /** 1999 (9090) if it is free on 127.0.0.1, else any free port there (a developer's server may hold 1999). */
  private static int port(int preferred) throws IOException {
    for (int candidate : new int[] {preferred, 0}) {
      try (ServerSocket s = new ServerSocket(candidate, 1, InetAddress.getLoopbackAddress())) {
        return s.getLocalPort();
      } catch (IOException taken) {
        // the next candidate
      }
    }
    throw new IOException("no free port on 127.0.0.1");
  }

  /** The key store of the TLS variant, made once per run by scripts/artery-tls.sh. */
  static final Path TLS_DIR = ROOT.resolve("target").resolve("compose-tls");

  private static synchronized String tlsPassword() {
    try {
      if (!Files.exists(TLS_DIR.resolve("password"))) {
        checked(List.of("bash", ROOT.resolve("scripts/artery-tls.sh").toString(), TLS_DIR.toString()), Map.of(),
            Duration.ofMinutes(1), "artery-tls");
      }
      return Files.readString(TLS_DIR.resolve("password"));
    } catch (Exception e) {
      throw new IllegalStateException("making the Artery key store failed", e);
    }
  }

  /** Runs {@code <compose> -f docker-compose.yml -f deploy/compose.local-images.yml -f deploy/compose.tls.yml <args>}; fails on a non-zero exit. */
  Result compose(Duration timeout, String... args) throws IOException, InterruptedException {
    return checked(composeArgs(args), composeEnv(), timeout, "compose-" + args[0]);
  }

  /** The id of a service's container (also a stopped one), found by compose's labels (docker is quicker than compose). */
  String container(String service) throws IOException, InterruptedException {
    String id = checked(List.of("docker", "ps", "-a", "-q", "--filter", "label=com.docker.compose.project=" + PROJECT,
        "--filter", "label=com.docker.compose.service=" + service), Map.of(), Duration.ofSeconds(60), "container-" + service)
        .output().lines().map(String::trim).filter(l -> l.matches("[0-9a-f]{12,64}")).findFirst().orElse("");
    if (id.isEmpty()) throw new AssertionError("no container for service " + service);
    return id;
  }

  /** Runs {@code docker <args>}; fails on a non-zero exit. */
  Result docker(Duration timeout, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("docker"));
    cmd.addAll(List.of(args));
    return checked(cmd, Map.of(), timeout, "docker-" + args[0]);
  }

  /**
   * Waits until every node container reports healthy (its own /ready: Up in the cluster, database
   * answering) and the balancer reaches them; fails early, with the container's log, if one exited.
   */
  void awaitReady(Duration max) throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    Map<String, String> status = new LinkedHashMap<>();
    int lbStatus = -1;
    Map<String, String> ids = new LinkedHashMap<>();
    for (String n : NODES) ids.put(n, container(n));
    while (System.nanoTime() < deadline) {
      for (String n : NODES) {
        Result r = exec(List.of("docker", "inspect", "-f", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
            ids.get(n)), Map.of(), Duration.ofSeconds(30), "inspect-" + n);
        status.put(n, r.output().trim());
        if (r.output().startsWith("exited") || r.output().startsWith("dead")) {
          saveLogs("exited");
          throw new AssertionError(n + " exited while starting: " + status + "; logs in " + WORK);
        }
      }
      // the balancer reaches the nodes: a bad room id is the nodes' own 400 (their /ready stays off the balancer)
      lbStatus = httpStatus(lbPort, "/not-a-room");
      if (status.values().stream().allMatch("running healthy"::equals) && lbStatus == 400) return;
      Thread.sleep(2000);
    }
    saveLogs("not-ready");
    throw new AssertionError("the cluster was not ready within " + max.toSeconds() + " s: nodes " + status
        + ", GET /not-a-room through the balancer: " + lbStatus + "; logs in " + WORK);
  }

  /** GET http://127.0.0.1:port/path: its status, or -1 when nothing answered. */
  static int httpStatus(int port, String path) {
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** Prometheus' HTTP API on its published port: the JSON answer of GET /api/v1/<path>. */
  JsonNode prometheus(String path) throws IOException, InterruptedException {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + prometheusPort + "/api/v1/" + path))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) throw new IOException("Prometheus /api/v1/" + path + ": " + r.statusCode() + " " + r.body());
    return JSON.readTree(r.body());
  }

  /** The value of a PromQL expression that yields one number, or NaN when it yields nothing (yet). */
  double query(String promql) throws IOException, InterruptedException {
    JsonNode result = prometheus("query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)).path("data").path("result");
    return result.size() == 0 ? Double.NaN : Double.parseDouble(result.get(0).path("value").get(1).asText());
  }

  /** {@code docker logs} of every container of the project (running or not) to target/compose-it/logs-<phase>/. */
  void saveLogs(String phase) {
    try {
      Path dir = Files.createDirectories(WORK.resolve("logs-" + phase));
      Result ps = exec(composeArgs("ps", "-a"), composeEnv(), Duration.ofSeconds(60), "ps-" + phase);
      Files.writeString(dir.resolve("ps.txt"), ps.output());
      Result ids = exec(List.of("docker", "ps", "-a", "-q", "--filter", "label=com.docker.compose.project=" + PROJECT), Map.of(),
          Duration.ofSeconds(60), "ps-q-" + phase);
      for (String id : ids.output().lines().map(String::trim).filter(l -> l.matches("[0-9a-f]{12,64}")).toList()) {
        String service = exec(List.of("docker", "inspect", "-f", "{{index .Config.Labels \"com.docker.compose.service\"}}", id),
            Map.of(), Duration.ofSeconds(30), "inspect").output().trim();
        Path log = dir.resolve((service.isEmpty() ? id : service) + ".log");
        run(List.of("docker", "logs", "--timestamps", id), Map.of(), Duration.ofSeconds(60), log);
        Result health = exec(List.of("docker", "inspect", "-f", "{{json .State}}", id), Map.of(), Duration.ofSeconds(30), "inspect");
        Files.writeString(dir.resolve((service.isEmpty() ? id : service) + ".state.json"), health.output());
      }
    } catch (Exception e) {
      System.err.println("[compose-it] saving the containers' logs (" + phase + ") failed: " + e);
    }
  }

  private List<String> composeArgs(String... args) {
    List<String> cmd = new ArrayList<>(compose);
    // the TLS variant: Artery between the nodes over TLS (deploy/compose.tls.yml, scripts/artery-tls.sh)
    cmd.addAll(List.of("-f", "docker-compose.yml", "-f", "deploy/compose.local-images.yml", "-f", "deploy/compose.tls.yml"));
    cmd.addAll(List.of(args));
    return cmd;
  }

  /** The project's name, ports on 127.0.0.1 only, and the node settings of the test. */
  private Map<String, String> composeEnv() {
    Map<String, String> env = new HashMap<>(NODE_SETTINGS);
    env.put("COMPOSE_PROJECT_NAME", PROJECT);
    env.put("ARTERY_TLS_DIR", TLS_DIR.toString());
    env.put("ARTERY_STORE_PASSWORD", tlsPassword());
    env.put("RIPPLE_PUBLISH_HOST", "127.0.0.1");
    env.put("RIPPLE_PORT", Integer.toString(lbPort));
    env.put("PROMETHEUS_PORT", Integer.toString(prometheusPort));
    env.put("COMPOSE_HTTP_TIMEOUT", "300"); // docker-compose v1's API timeout (60 s) is short for a busy 2-core machine
    env.put("DOCKER_BUILDKIT", "0"); // the classic builder: no buildx plugin needed
    env.put("COMPOSE_DOCKER_CLI_BUILD", "0");
    return env;
  }

  /** Records how long a phase took (printed and written to target/compose-it/timings.json at the end). */
  void phase(String name, long startNanos) {
    phases.put(name, millisSince(startNanos));
  }

  private static long millisSince(long startNanos) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
  }

  /** The containers' logs, {@code down -v} (containers, network, volumes), and the engine stopped if this run started it. */
  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    try {
      Runtime.getRuntime().removeShutdownHook(cleanupOnExit);
    } catch (IllegalStateException shuttingDown) {
      // called from the hook itself
    }
    cleanUp();
  }

  private void cleanUp() {
    long t0 = System.nanoTime();
    saveLogs("final");
    try {
      // the nodes' graceful leave was tested already: 5 s, then SIGKILL
      compose(Duration.ofMinutes(3), "down", "-v", "--remove-orphans", "--timeout", "5");
    } catch (Throwable e) {
      System.err.println("[compose-it] compose down -v failed: " + e);
    }
    try {
      // the node image this run replaced (each run builds one from its jar): not left to pile up
      exec(List.of("docker", "image", "prune", "-f", "--filter", "label=dev.ripple.image=node"), Map.of(), Duration.ofMinutes(2), "prune");
    } catch (Throwable e) {
      System.err.println("[compose-it] pruning old node images failed: " + e);
    }
    if (engineStarted) stopEngine();
    phases.put("cleanup", millisSince(t0));
    try {
      Files.writeString(WORK.resolve("timings.json"), JSON.writeValueAsString(phases));
    } catch (IOException e) {
      System.err.println("[compose-it] " + e);
    }
    System.out.println("[compose-it] phases (ms): " + phases);
  }

  private static void stopEngine() {
    try {
      checked(List.of(ROOT.resolve("scripts/docker-engine.sh").toString(), "stop", WORK.resolve("engine").toString()), Map.of(),
          Duration.ofMinutes(2), "engine-stop");
    } catch (Throwable e) {
      System.err.println("[compose-it] stopping dockerd failed: " + e);
    }
  }

  // ------------------------------------------------------------------ processes

  private static final AtomicInteger LOGS = new AtomicInteger();

  /** Runs a command in the project's root; its output goes to target/compose-it/commands/NN-name.log. */
  static Result exec(List<String> cmd, Map<String, String> env, Duration timeout, String name) throws IOException, InterruptedException {
    Path log = WORK.resolve("commands").resolve(String.format("%03d-%s.log", LOGS.incrementAndGet(), name.replaceAll("[^A-Za-z0-9_.-]", "_")));
    return run(cmd, env, timeout, log);
  }

  private static Result run(List<String> cmd, Map<String, String> env, Duration timeout, Path log) throws IOException, InterruptedException {
    Files.createDirectories(log.getParent());
    String header = "$ " + String.join(" ", cmd) + "\n"; // in the log, not in the output returned
    Files.writeString(log, header);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().remove("CONVEX_SITE_URL"); // the compose file passes these through: the test runs on embedded defaults
    pb.environment().remove("PARTYKIT_SECRET");
    pb.environment().putAll(env);
    Process p = pb.start();
    if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", cmd) + " did not finish within " + timeout.toSeconds() + " s; output in " + log
          + ":\n" + tail(Files.readString(log)));
    }
    return new Result(p.exitValue(), Files.readString(log).substring(header.length()));
  }

  private static Result checked(List<String> cmd, Map<String, String> env, Duration timeout, String name) throws IOException, InterruptedException {
    Result r = exec(cmd, env, timeout, name);
    if (r.exitCode() != 0) {
      throw new AssertionError(String.join(" ", cmd) + " exited " + r.exitCode() + ":\n" + tail(r.output()));
    }
    return r;
  }

  static String tail(String s) {
    return s.substring(Math.max(0, s.length() - 4000));
  }
}
