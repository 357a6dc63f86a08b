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
import dev.ripple.collab.auth.Authenticator;
import dev.ripple.collab.backup.SnapshotBackup;
import dev.ripple.collab.http.Routes;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.room.Room;
import dev.ripple.collab.session.SessionRegistry;
import java.nio.file.Files;
import java.time.Duration;
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
    Server server = start(ConfigFactory.load());
    log.info("Ripple collaboration server listening on {}:{} (data in {})",
        server.settings().bindHost(), server.port(), server.settings().dataDir().toAbsolutePath());
  }

  public static Server start(Config config) throws Exception {
    Settings settings = Settings.from(config);
    Authenticator authenticator = Authenticator.fromConfig(config); // fails fast: CONVEX_SITE_URL without PARTYKIT_SECRET
    Files.createDirectories(settings.dataDir());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "ripple", config);
    try {
      Cluster cluster = Cluster.get(system);
      cluster.manager().tell(Join.create(cluster.selfMember().address()));
      SchemaUtils.createIfNotExists(system).toCompletableFuture().get(60, TimeUnit.SECONDS);
      SnapshotBackup backup = SnapshotBackup.fromConfig(config, system.dispatchers().lookup(akka.actor.typed.DispatcherSelector.blocking()));
      Room.init(system, settings, backup);
      SessionRegistry sessions = new SessionRegistry();
      ServerBinding binding = Http.get(system).newServerAt(settings.bindHost(), settings.httpPort())
          .bind(new Routes(system, settings, sessions, authenticator).routes())
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
      // stop accepting, then tell every client to reconnect (1012), then let rooms finish their writes
      // (sharding stops them gracefully in its own, later shutdown phases)
      CoordinatedShutdown cs = CoordinatedShutdown.get(system);
      cs.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "ripple-unbind", () -> binding.unbind().thenApply(u -> Done.getInstance()));
      cs.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "ripple-close-sockets", () -> {
        int n = sessions.closeAll(CloseCodes.SERVICE_RESTART, "server restarting");
        log.info("shutdown: closed {} connections with {}", n, CloseCodes.SERVICE_RESTART);
        return akka.pattern.Patterns.after(Duration.ofMillis(n > 0 ? 500 : 0), system.classicSystem().scheduler(),
            system.executionContext(), () -> java.util.concurrent.CompletableFuture.completedFuture(Done.getInstance()));
      });
      return new Server(system, binding, settings);
    } catch (Exception e) {
      system.terminate();
      throw e;
    }
  }
}
