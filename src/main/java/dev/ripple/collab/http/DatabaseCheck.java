package dev.ripple.collab.http;

import akka.actor.ActorSystem;
import com.typesafe.config.Config;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * Readiness: the journal's database answers {@code SELECT 1}. A node that cannot write its rooms'
 * updates must not receive connections. Registered as an Akka Management readiness check.
 */
public final class DatabaseCheck implements Supplier<CompletionStage<Boolean>> {
  private final String url;
  private final String user;
  private final String password;
  private final java.util.concurrent.Executor blocking;

  public DatabaseCheck(ActorSystem system) {
    Config db = system.settings().config().getConfig("akka-persistence-jdbc.shared-databases.slick.db");
    this.url = db.getString("url");
    this.user = db.hasPath("user") ? db.getString("user") : null;
    this.password = db.hasPath("password") ? db.getString("password") : null;
    this.blocking = system.dispatchers().lookup("akka.actor.default-blocking-io-dispatcher");
  }

  @Override
  public CompletionStage<Boolean> get() {
    return CompletableFuture.supplyAsync(() -> {
      DriverManager.setLoginTimeout(3);
      try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement()) {
        s.setQueryTimeout(3);
        return s.execute("SELECT 1");
      } catch (Exception e) {
        return false;
      }
    }, blocking);
  }
}
