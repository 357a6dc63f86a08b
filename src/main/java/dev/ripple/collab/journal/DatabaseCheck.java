package dev.ripple.collab.journal;

import akka.actor.ActorSystem;
import com.typesafe.config.Config;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Readiness: the journal's database answers {@code SELECT 1}. A node that cannot write its rooms'
 * updates must not receive connections. Registered as an Akka Management readiness check.
 */
public final class DatabaseCheck implements Supplier<CompletionStage<Boolean>> {
  private final Config db;
  private final boolean inUse;
  private final Executor blocking;

  public DatabaseCheck(ActorSystem system) {
    this.db = system.settings().config().getConfig(JournalDatabase.DB_CONFIG);
    this.inUse = JournalDatabase.inUse(system.settings().config());
    this.blocking = system.dispatchers().lookup("akka.actor.default-blocking-io-dispatcher");
  }

  /** The last answer and when it was given: a flood of /ready asks the database at most once a second. */
  private static final long REUSE_NANOS = 1_000_000_000L;
  private volatile CompletableFuture<Boolean> last;
  private volatile long lastAt;

  @Override
  public CompletionStage<Boolean> get() {
    if (!inUse) return CompletableFuture.completedFuture(true); // single mode: no database, the journal check decides
    CompletableFuture<Boolean> previous = last;
    long now = System.nanoTime();
    if (previous != null && now - lastAt < REUSE_NANOS) return previous;
    CompletableFuture<Boolean> next = ask();
    last = next;
    lastAt = now;
    return next;
  }

  private CompletableFuture<Boolean> ask() {
    return CompletableFuture.supplyAsync(() -> {
      DriverManager.setLoginTimeout(3);
      try (Connection c = JournalDatabase.connect(db); Statement s = c.createStatement()) {
        s.setQueryTimeout(3);
        return s.execute("SELECT 1");
      } catch (Exception e) {
        return false;
      }
    }, blocking);
  }
}
