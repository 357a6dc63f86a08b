package dev.ripple.collab;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Join;
import akka.http.javadsl.Http;
import akka.http.javadsl.ServerBinding;
import akka.persistence.jdbc.testkit.javadsl.SchemaUtils;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.Props;
import akka.http.javadsl.model.HttpRequest;
import akka.management.cluster.bootstrap.ClusterBootstrap;
import akka.management.javadsl.AkkaManagement;
import akka.pattern.Patterns;
import akka.stream.javadsl.Flow;
import dev.ripple.collab.auth.AuthSettings;
import dev.ripple.collab.auth.Authenticator;
import dev.ripple.collab.backup.SnapshotBackup;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.config.WarmupSettings;
import dev.ripple.collab.config.WebhookSettings;
import dev.ripple.collab.http.Routes;
import dev.ripple.collab.journal.DatabaseCheck;
import dev.ripple.collab.journal.FileSnapshotStore;
import dev.ripple.collab.journal.H2Import;
import dev.ripple.collab.journal.JournalDatabase;
import dev.ripple.collab.journal.JournalCheck;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.node.DatabaseWatch;
import dev.ripple.collab.node.DropWatch;
import dev.ripple.collab.node.Warmup;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.InboundBudget;
import dev.ripple.collab.room.Room;
import dev.ripple.collab.room.Webhooks;
import dev.ripple.collab.session.Reverifier;
import dev.ripple.collab.session.SessionRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Boots the server: a cluster of one that joins itself, tables, room sharding, HTTP. */
public final class Main {
  private static final Logger log = LoggerFactory.getLogger(Main.class);

  /** A running server. */
  public record Server(ActorSystem<Void> system, ServerBinding binding, Settings settings) {
    public int port() {
      return binding.localAddress().getPort();
    }

    /** Coordinated shutdown: unbind, close connections with 1012, stop rooms after their writes. */
    public void stop() throws Exception {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  public static void main(String[] args) throws Exception {
    Server server;
    try {
      server = start(loadConfig(System.getenv()));
    } catch (IllegalStateException e) {
      // a start refused for a reason the operator can act on (configuration, the journal): one line, exit 1
      log.error("cannot start: {}", e.getMessage());
      System.exit(1);
      return;
    }
    log.info("Ripple collaboration server listening on {}:{} (data in {})",
        server.settings().bindHost(), server.port(), server.settings().dataDir().toAbsolutePath());
  }

  /**
   * The configuration for {@code COLLAB_MODE}: {@code single} (application.conf) or {@code cluster}
   * (cluster.conf), with {@code COLLAB_CONTACT_POINTS} ("host:port,host:port", management ports)
   * as the bootstrap's config discovery.
   */
  public static Config loadConfig(Map<String, String> env) {
    String mode = env.getOrDefault("COLLAB_MODE", "single");
    Config base = switch (mode) {
      case "single" -> ConfigFactory.parseResources("application.conf");
      case "cluster" -> ConfigFactory.parseResources("cluster.conf");
      default -> throw new IllegalArgumentException("COLLAB_MODE must be single or cluster, not " + mode);
    };
    Config overrides = ConfigFactory.empty();
    String contacts = env.get("COLLAB_CONTACT_POINTS");
    if (contacts != null && !contacts.isBlank()) {
      String service = base.withFallback(ConfigFactory.defaultReference()).resolve()
          .getString("akka.management.cluster.bootstrap.contact-point-discovery.service-name");
      overrides = contactPoints(contacts, service);
    }
    return ConfigFactory.defaultOverrides().withFallback(overrides).withFallback(base).withFallback(ConfigFactory.defaultReference()).resolve();
  }

  /**
   * The journal and snapshot tables, created if missing. Nodes of a cluster start together (docker
   * compose starts all three at once) and PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against
   * a concurrent twin (one of them fails on the catalog's unique index), so a failed attempt is
   * retried after a short random pause: the second attempt finds the tables made by the other node.
   */
  static void createSchema(ActorSystem<?> system) throws Exception {
    int attempts = 5;
    for (int attempt = 1; ; attempt++) {
      try {
        SchemaUtils.createIfNotExists(system).toCompletableFuture().get(60, TimeUnit.SECONDS);
        return;
      } catch (ExecutionException e) {
        if (attempt == attempts) throw e;
        log.warn("creating the journal tables failed (attempt {} of {}), retrying: {}", attempt, attempts, e.getCause().toString());
        Thread.sleep(200L + ThreadLocalRandom.current().nextLong(800));
      }
    }
  }

  /** Config discovery endpoints for the bootstrap from "host:port,host:port". */
  static Config contactPoints(String list, String serviceName) {
    // several nodes may share a host (local cluster, tests): every listed port is a contact point
    StringBuilder sb = new StringBuilder("akka.management.cluster.bootstrap.contact-point.filter-on-fallback-port = false\n"
        + "akka.discovery.config.services.\"" + serviceName + "\".endpoints = [");
    for (String hp : list.split(",")) {
      String[] parts = hp.trim().split(":");
      if (parts.length != 2) throw new IllegalArgumentException("COLLAB_CONTACT_POINTS entries are host:port, not " + hp);
      sb.append("{host = \"").append(parts[0]).append("\", port = ").append(Integer.parseInt(parts[1])).append("},");
    }
    return ConfigFactory.parseString(sb.append("]").toString());
  }

  public static Server start(Config config) throws Exception {
    Settings settings = Settings.from(config);
    Authenticator authenticator = Authenticator.fromConfig(config); // fails fast: CONVEX_SITE_URL without PARTYKIT_SECRET
    // fails fast too: COLLAB_WEBHOOK_URL without a COLLAB_WEBHOOK_SECRET of its own
    Optional<WebhookSettings> hookSettings = WebhookSettings.from(config.getConfig("ripple"));
    Files.createDirectories(settings.dataDir());
    // a room's stash holds what its connections may have in flight while it writes: sized from the limits, never full
    config = ConfigFactory.parseMap(Map.of("akka.persistence.typed.stash-capacity", settings.roomStashCapacity()))
        .withFallback(config);
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "ripple", config);
    try {
      DropWatch.start(system);
      if (config.getString("ripple.mode").equals("cluster")) {
        // nodes find each other through Akka Management's contact points (config or DNS discovery)
        AkkaManagement.get(system).start().toCompletableFuture().get(30, TimeUnit.SECONDS);
        ClusterBootstrap.get(system).start();
      } else {
        Cluster cluster = Cluster.get(system);
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
      }
      if (JournalDatabase.inUse(config)) createSchema(system);
      if (JournalCheck.inUse(system.classicSystem())) {
        // before any room starts: what an earlier version kept in H2 moves into the files (once; then H2 is never loaded)
        H2Import.run(config.getConfig(JournalDatabase.DB_CONFIG), settings.dataDir(), Path.of(config.getString("ripple-file-journal.dir")),
            FileSnapshotStore.inUse(config) ? Path.of(config.getString(FileSnapshotStore.PLUGIN + ".dir")) : null);
        // a journal that refused its files (damage) or is held by another process: no port, a clear reason
        JournalCheck.awaitRunning(system.classicSystem(), Duration.ofMinutes(5));
      }
      if (FileSnapshotStore.inUse(config)) FileSnapshotStore.awaitRunning(system.classicSystem(), Duration.ofSeconds(30));
      SnapshotBackup backup = SnapshotBackup.fromConfig(config, system.dispatchers().lookup(DispatcherSelector.blocking()));
      Optional<Webhooks> webhooks = hookSettings
          .map(w -> new Webhooks(w, system.dispatchers().lookup(DispatcherSelector.blocking())));
      webhooks.ifPresent(w -> log.info("webhooks: change notifications go to {}", w.settings().url()));
      Room.init(system, settings, backup, webhooks);
      if (config.getString("ripple.mode").equals("cluster")) {
        // a node that lost its database gives its rooms up to the nodes that still reach it
        system.systemActorOf(DatabaseWatch.create(new DatabaseCheck(system.classicSystem()),
            DatabaseWatch.Settings.from(config.getConfig("ripple"))), "database-watch", Props.empty());
      }
      SessionRegistry sessions = new SessionRegistry(Metrics.get(system).connections,
          new InboundBudget(settings.maxBufferedBytes()));
      Reverifier.start(system, sessions, authenticator, AuthSettings.from(config).reverifyInterval());
      Warmup warmup = new Warmup(WarmupSettings.from(config.getConfig("ripple")));
      ServerBinding binding = Http.get(system).newServerAt(settings.bindHost(), settings.httpPort())
          // the first request (the upgrade) must be in within header-timeout of the accept: trickled headers are cut off
          .bindFlow(Flow.of(HttpRequest.class)
              .initialTimeout(settings.headerTimeout())
              .via(new Routes(system, settings, sessions, authenticator, warmup).routes().flow(system)))
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      // /ready waits for it; in a cluster it starts once this node is Up (rooms can be placed then)
      akka.cluster.Cluster.get(system.classicSystem()).registerOnMemberUp(
          () -> warmup.start(system, binding.localAddress().getPort()));
      // stop accepting, then tell every client to reconnect (1012), then let rooms finish their writes
      // (sharding stops them gracefully in its own, later shutdown phases)
      CoordinatedShutdown cs = CoordinatedShutdown.get(system);
      cs.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "ripple-unbind", () -> binding.unbind().thenApply(u -> Done.getInstance()));
      cs.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "ripple-close-sockets", () -> {
        int n = sessions.closeAll(CloseCodes.SERVICE_RESTART, "server restarting");
        log.info("shutdown: closed {} connections with {}", n, CloseCodes.SERVICE_RESTART);
        return Patterns.after(Duration.ofMillis(n > 0 ? 500 : 0), system.classicSystem().scheduler(),
            system.executionContext(), () -> CompletableFuture.completedFuture(Done.getInstance()));
      });
      return new Server(system, binding, settings);
    } catch (Exception e) {
      system.terminate();
      throw e;
    }
  }
}
