package dev.ripple.collab.journal;

import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves what a server kept in H2 (single mode before {@link FileJournal} and {@link FileSnapshotStore})
 * into their files, once, before any room starts: an upgrade loses nothing, and afterwards single mode
 * never loads H2 again.
 *
 * <p>The events go, serialized as they are, into a new segment, which is forced to disk before the
 * rows are deleted; a start that dies in between imports them again, and the journal's index keeps
 * the later copy of an event. akka-persistence-jdbc keeps the highest deleted row of a persistence id
 * (marked deleted): it becomes a deletion marker, so the sequence numbers go on from where they were.
 * The newest {@link FileSnapshotStore#KEEP} snapshots of each persistence id are written as snapshot
 * files (each forced before its rows go). Last, the database file is renamed to
 * {@code ripple.mv.db.imported} (kept, not deleted: a way back by hand), so that later starts find
 * nothing to import and load no H2 class.
 */
public final class H2Import {
  private static final Logger log = LoggerFactory.getLogger(H2Import.class);
  /** What the H2 database of {@code <data-dir>/ripple} becomes once imported. */
  static final String IMPORTED_SUFFIX = ".imported";

  private H2Import() {}

  /**
   * If {@code <data-dir>/ripple.mv.db} exists: imports its journal into {@code journalDir} and its
   * snapshots into {@code snapshotDir} (null: the snapshots stay in H2), then renames it. Returns the
   * journal rows and snapshots moved.
   */
  public static int run(Config db, Path dataDir, Path journalDir, Path snapshotDir) throws IOException, SQLException {
    Path file = dataDir.resolve("ripple.mv.db");
    if (!Files.exists(file)) return 0;
    int moved = journal(db, journalDir);
    if (snapshotDir == null) return moved; // snapshots still in H2 (a configuration of its own): it stays
    moved += snapshots(db, snapshotDir);
    Files.move(file, file.resolveSibling(file.getFileName() + IMPORTED_SUFFIX), StandardCopyOption.REPLACE_EXISTING);
    log.info("H2: {} imported ({} rows and snapshots) and renamed to {}{}: single mode keeps its data in files now",
        file, moved, file.getFileName(), IMPORTED_SUFFIX);
    return moved;
  }

  /** Moves the newest snapshots of every persistence id into {@code snapshotDir}; returns how many. */
  static int snapshots(Config db, Path snapshotDir) throws IOException, SQLException {
    try (Connection c = JournalDatabase.connect(db)) {
      c.setAutoCommit(false);
      if (!hasTable(c, "snapshot")) return 0;
      Files.createDirectories(snapshotDir);
      int moved = 0;
      String previous = null;
      int ofThisId = 0;
      try (Statement s = c.createStatement();
          ResultSet r = s.executeQuery("SELECT \"persistence_id\", \"sequence_number\", \"created\", \"snapshot_ser_id\", "
              + "\"snapshot_ser_manifest\", \"snapshot_payload\" FROM \"snapshot\" ORDER BY \"persistence_id\", \"sequence_number\" DESC")) {
        while (r.next()) {
          String id = r.getString(1);
          ofThisId = id.equals(previous) ? ofThisId + 1 : 1;
          previous = id;
          if (ofThisId > FileSnapshotStore.KEEP) continue;
          // written oldest last: the store keeps the newest KEEP whatever the order
          FileSnapshotStore.write(snapshotDir, new FileSnapshotStore.Stored(id, r.getLong(2), r.getLong(3), r.getInt(4), r.getString(5),
              r.getBytes(6)));
          moved++;
        }
      }
      try (Statement s = c.createStatement()) {
        s.executeUpdate("DELETE FROM \"snapshot\"");
      }
      c.commit();
      if (moved > 0) log.info("snapshots: moved {} snapshots of the H2 database into {}", moved, snapshotDir);
      return moved;
    }
  }

  private static boolean hasTable(Connection c, String table) throws SQLException {
    try (ResultSet r = c.getMetaData().getTables(null, null, table, null)) {
      return r.next();
    }
  }

  /** Imports the events of the database {@code db} (a slick db config) into {@code journalDir}; returns the rows moved. */
  static int journal(Config db, Path journalDir) throws IOException, SQLException {
    try (Connection c = JournalDatabase.connect(db)) {
      c.setAutoCommit(false);
      if (!hasTable(c, "event_journal")) return 0;
      int rows = 0;
      Files.createDirectories(journalDir);
      Path segment = journalDir.resolve(String.format("segment-%016d.log", nextSegmentId(journalDir)));
      Records out = new Records();
      try (Statement s = c.createStatement();
          ResultSet r = s.executeQuery("SELECT \"persistence_id\", \"sequence_number\", \"deleted\", \"writer\", \"write_timestamp\", "
              + "\"adapter_manifest\", \"event_ser_id\", \"event_ser_manifest\", \"event_payload\" FROM \"event_journal\" ORDER BY \"ordering\"");
          FileChannel channel = FileChannel.open(segment, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        while (r.next()) {
          out.clear();
          String persistenceId = r.getString(1);
          if (r.getBoolean(3)) {
            out.marker(persistenceId, r.getLong(2));
          } else {
            out.beginEvents(persistenceId, 1);
            out.event(new Records.Event(r.getLong(2), r.getLong(5), r.getString(4), r.getString(6), r.getInt(7), r.getString(8),
                r.getBytes(9)));
            out.end();
          }
          ByteBuffer b = out.flip();
          while (b.hasRemaining()) channel.write(b);
          rows++;
        }
        channel.force(true);
      }
      if (rows == 0) {
        Files.delete(segment);
        return 0;
      }
      try (Statement s = c.createStatement()) {
        s.executeUpdate("DELETE FROM \"event_journal\"");
      }
      c.commit();
      log.info("journal: moved {} rows of the H2 journal into {}", rows, segment);
      return rows;
    }
  }

  private static long nextSegmentId(Path dir) throws IOException {
    try (var files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.matches("segment-\\d{16}\\.log"))
          .mapToLong(n -> Long.parseLong(n.substring(8, 24))).max().orElse(0L) + 1;
    }
  }
}
