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
import java.util.ArrayList;
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

  /** Whether the journal or the snapshot store of {@code config} is akka-persistence-jdbc's (a cluster's PostgreSQL). */
  public static boolean inUse(Config config) {
    return config.getString("akka.persistence.journal.plugin").startsWith("jdbc-")
        || config.getString("akka.persistence.snapshot-store.plugin").startsWith("jdbc-");
  }

  /** A plain JDBC connection to the database of {@code db} (the shared slick db config: url, user, password). */
  public static Connection connect(Config db) throws SQLException {
    return DriverManager.getConnection(db.getString("url"), db.hasPath("user") ? db.getString("user") : null,
        db.hasPath("password") ? db.getString("password") : null);
  }

  /**
   * Deletes the journaled events and the snapshots of every persistence id that starts with
   * {@code persistenceIdPrefix}: through the file journal's and the file snapshot store's own messages
   * in single mode, by SQL in a cluster's PostgreSQL. Blocks.
   */
  public static void deleteWithPrefix(ActorSystem<?> system, String persistenceIdPrefix) {
    Config config = system.settings().config();
    Persistence persistence = Persistence.get(system.classicSystem());
    List<String> tables = new ArrayList<>();
    if (config.getString("akka.persistence.journal.plugin").equals("ripple-file-journal")) {
      ask(persistence.journalFor("", ConfigFactory.empty()), new FileJournal.DeleteAllWithPrefix(persistenceIdPrefix));
    } else {
      tables.add("event_journal");
    }
    if (FileSnapshotStore.inUse(config)) {
      ask(persistence.snapshotStoreFor("", ConfigFactory.empty()), new FileSnapshotStore.DeleteAllWithPrefix(persistenceIdPrefix));
    } else {
      tables.add("snapshot");
    }
    if (tables.isEmpty()) return;
    String pattern = persistenceIdPrefix.replace("~", "~~").replace("%", "~%").replace("_", "~_") + "%";
    try (Connection c = connect(config.getConfig(DB_CONFIG))) {
      for (String table : tables) {
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

  private static void ask(ActorRef plugin, Object message) {
    Patterns.ask(plugin, message, Duration.ofSeconds(30)).toCompletableFuture().join();
  }
}
