package dev.ripple.collab.journal;

import akka.actor.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.pattern.Patterns;
import akka.persistence.Persistence;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The journal's database by plain JDBC (the H2 file of single mode, a cluster's PostgreSQL), and
 * its maintenance: deleting every row of the persistence ids with a prefix.
 */
public final class JournalDatabase {
  private static final Logger log = LoggerFactory.getLogger(JournalDatabase.class);
  /** Where the shared slick db config (url, user, password) is. */
  public static final String DB_CONFIG = "akka-persistence-jdbc.shared-databases.slick.db";

  private JournalDatabase() {}

  /** A plain JDBC connection to the database of {@code db} (the shared slick db config: url, user, password). */
  public static Connection connect(Config db) throws SQLException {
    return DriverManager.getConnection(db.getString("url"), db.hasPath("user") ? db.getString("user") : null,
        db.hasPath("password") ? db.getString("password") : null);
  }

  /**
   * Deletes the journaled events and the snapshots of every persistence id that starts with
   * {@code persistenceIdPrefix}: through the file journal's own message in single mode, by SQL in a
   * cluster's PostgreSQL journal; snapshots are in the JDBC snapshot store in both. Blocks.
   */
  public static void deleteWithPrefix(ActorSystem<?> system, String persistenceIdPrefix) {
    Config config = system.settings().config();
    boolean fileJournal = config.getString("akka.persistence.journal.plugin").equals("ripple-file-journal");
    if (fileJournal) {
      ActorRef journal = Persistence.get(system.classicSystem()).journalFor("", ConfigFactory.empty());
      Patterns.ask(journal, new FileJournal.DeleteAllWithPrefix(persistenceIdPrefix), Duration.ofSeconds(30))
          .toCompletableFuture().join();
    }
    String pattern = persistenceIdPrefix.replace("~", "~~").replace("%", "~%").replace("_", "~_") + "%";
    try (Connection c = connect(config.getConfig(DB_CONFIG))) {
      for (String table : fileJournal ? List.of("snapshot") : List.of("event_journal", "snapshot")) {
        try (PreparedStatement s = c.prepareStatement(
            "DELETE FROM \"" + table + "\" WHERE \"persistence_id\" LIKE ? ESCAPE '~'")) {
          s.setString(1, pattern);
          int n = s.executeUpdate();
          if (n > 0) log.debug("deleted {} rows of {}... from {}", n, persistenceIdPrefix, table);
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException("deleting the journal rows of " + persistenceIdPrefix + "...: " + e.getMessage(), e);
    }
  }
}
