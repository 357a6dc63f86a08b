package dev.ripple.collab.backup;

import com.typesafe.config.Config;
import dev.ripple.collab.config.ConvexSettings;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable copy of a room's document outside the journal: the full state as one Yjs v1 update,
 * with the count of journaled updates it covers. {@link ConvexBackup} in production,
 * {@link LocalDirectoryBackup} on embedded defaults. Both complete exceptionally with a
 * {@link BackupException} on failure and never throw from the call itself. The state array is not
 * copied: do not change it before the save completes. The room issues one save at a time, but a
 * save that failed on our side (a timeout) may still land after its successor: the backup keeps the
 * state with the higher count, so the newest state wins, not the last to arrive. A save the backup
 * refuses for that reason reports {@link SaveResult.KeptNewer}: the state saved is not the backup, and
 * the room must catch up with the backup's content before it counts itself saved.
 */
public interface SnapshotBackup {

  /**
   * A stored backup: the full state, and how many journaled updates of the room it covers (0 for a
   * backup stored before the count existed).
   */
  record Backup(byte[] state, long updates) {
    public Backup {
      if (updates < 0) throw new IllegalArgumentException("updates must be >= 0, not " + updates);
    }
  }

  /** What a save did: the state is now the room's backup, or the backup kept one covering more updates. */
  sealed interface SaveResult {
    /** The state is stored: the backup has it, durably. */
    record Stored() implements SaveResult {
      public static final Stored INSTANCE = new Stored();
    }

    /**
     * Refused, not failed: the backup keeps its snapshot, which covers more updates than this save
     * ({@code updates}: how many, when the answer says). Retrying the same save changes nothing; the
     * room loads that snapshot and merges it first.
     */
    record KeptNewer(OptionalLong updates) implements SaveResult {}
  }

  /**
   * Stores {@code state}, covering the room's first {@code updates} journaled updates, as the room's
   * backup unless the stored one covers more (an equal count replaces it). Completes, once the backup
   * answered, with {@link SaveResult.Stored} (durable) or {@link SaveResult.KeptNewer} (the stored one
   * stays; this state is not saved).
   */
  CompletionStage<SaveResult> save(String roomId, byte[] state, long updates);

  /** The room's last backup, or empty when it has none (a new document). */
  CompletionStage<Optional<Backup>> load(String roomId);

  /**
   * The backup the configuration asks for: {@link ConvexBackup} when {@code ripple.convex.site-url}
   * (CONVEX_SITE_URL) is set, which then requires {@code ripple.convex.secret} (PARTYKIT_SECRET),
   * else a {@link LocalDirectoryBackup} in {@code ripple.backup.local-dir}, with a loud warning.
   * Local file I/O runs on {@code blockingIo} (give it Akka's blocking dispatcher).
   *
   * @throws IllegalStateException when the site URL is set without the secret, or is not a URL
   */
  static SnapshotBackup fromConfig(Config config, Executor blockingIo) {
    return fromSettings(BackupSettings.from(config), blockingIo);
  }

  /** As {@link #fromConfig(Config, Executor)}, local file I/O on a small shared daemon pool. */
  static SnapshotBackup fromConfig(Config config) {
    return fromSettings(BackupSettings.from(config), LocalDirectoryBackup.DEFAULT_IO);
  }

  /** As {@link #fromConfig(Config, Executor)}, from settings already read. */
  static SnapshotBackup fromSettings(BackupSettings settings, Executor blockingIo) {
    Logger log = LoggerFactory.getLogger(SnapshotBackup.class);
    if (settings.convex().isPresent()) {
      ConvexSettings convex = settings.convex().get();
      log.info("backups go to Convex at {}", convex.siteUrl());
      return new ConvexBackup(convex.siteUrl(), convex.secret(), settings.requestTimeout(),
          ConvexBackup.defaultClient(settings.requestTimeout()));
    }
    log.warn("*** CONVEX_SITE_URL is not set: embedded mode. Backups are LOCAL files in {} and auth is OFF "
        + "(anyone may read and write every room). Set CONVEX_SITE_URL and PARTYKIT_SECRET in production. ***",
        settings.localDir().toAbsolutePath());
    return new LocalDirectoryBackup(settings.localDir(), blockingIo);
  }
}
