package dev.ripple.collab.journal;

import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves the events a server journaled into H2 (single mode before {@link FileJournal}) into the
 * file journal, once, before any room starts: an upgrade loses nothing. The events go, serialized as
 * they are, into a new segment, which is forced to disk before the rows are deleted; a start that
 * dies in between imports them again, and the journal's index keeps the later copy of an event.
 * akka-persistence-jdbc keeps the highest deleted row of a persistence id (marked deleted): it
 * becomes a deletion marker, so the sequence numbers go on from where they were.
 */
public final class H2JournalImport {
  private static final Logger log = LoggerFactory.getLogger(H2JournalImport.class);

  private H2JournalImport() {}

  /** Imports from the database {@code db} (a slick db config) into {@code journalDir}; returns the rows moved. */
  public static int run(Config db, Path journalDir) throws IOException, SQLException {
    try (Connection c = JournalDatabase.connect(db)) {
      c.setAutoCommit(false);
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
