package dev.ripple.collab.journal;

import akka.actor.ActorRef;
import akka.actor.ActorSystem;
import akka.pattern.Patterns;
import akka.persistence.Persistence;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Readiness: the file journal runs (it answers {@link FileJournal.Health} and did not refuse to
 * start). A node whose journal is down cannot keep a single update, so it must not receive clients.
 * With another journal (PostgreSQL in a cluster) this check says ready and DatabaseCheck decides.
 * Registered as an Akka Management readiness check; {@link #awaitRunning} is what Main checks before
 * it opens the port.
 */
public final class JournalCheck implements Supplier<CompletionStage<Boolean>> {
  static final String PLUGIN = "ripple-file-journal";
  private static final Duration ASK = Duration.ofSeconds(3);
  private final ActorSystem system;

  public JournalCheck(ActorSystem system) {
    this.system = system;
  }

  /** Whether this system journals into the file journal. */
  public static boolean inUse(ActorSystem system) {
    return system.settings().config().getString("akka.persistence.journal.plugin").equals(PLUGIN);
  }

  private static CompletionStage<FileJournal.HealthReport> ask(ActorSystem system, Duration timeout) {
    ActorRef journal = Persistence.get(system).journalFor(PLUGIN, ConfigFactory.empty());
    return Patterns.ask(journal, new FileJournal.Health(), timeout).thenApply(FileJournal.HealthReport.class::cast);
  }

  @Override
  public CompletionStage<Boolean> get() {
    if (!inUse(system)) return CompletableFuture.completedFuture(true);
    return ask(system, ASK).handle((report, error) -> error == null && report.running());
  }

  /**
   * Waits until the file journal has read its files (at most {@code timeout}: a large journal takes
   * a while) and throws, with the journal's own reason, if it did not start: a server must not run
   * on a journal that refused its files or is held by another process.
   */
  public static FileJournal.HealthReport awaitRunning(ActorSystem system, Duration timeout) throws Exception {
    FileJournal.HealthReport report;
    try {
      report = ask(system, timeout).toCompletableFuture().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("the journal did not answer within " + timeout.toSeconds() + " s (see the error logged before)", e);
    }
    if (!report.running()) throw new IllegalStateException("the journal cannot start: " + report.failure());
    return report;
  }
}
