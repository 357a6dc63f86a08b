package dev.ripple.collab.room;

import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import dev.ripple.collab.backup.BackupException;
import dev.ripple.collab.backup.SnapshotBackup;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.RoomEvent.BackupLoaded;
import dev.ripple.collab.room.RoomProtocol.Command;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A room with no local state loads its snapshot from the backup before it answers anyone (its phase
 * is {@link Phase#LOADING}); a load that fails is retried with {@link Backoff}, and meanwhile the room
 * serves (clients may edit; nothing is saved until the load succeeds, so a save never replaces a backup
 * the room has not seen).
 */
final class ColdStart {
  private static final Logger log = LoggerFactory.getLogger(ColdStart.class);

  /** Alarm: retry a failed load. */
  record RetryLoad() implements Command {}

  /** The load finished: the backup (empty = new document), or failed. */
  record LoadDone(Optional<SnapshotBackup.Backup> backup, Throwable failure) implements Command {}

  private static final Duration FIRST_RETRY = Duration.ofSeconds(2);

  private final RoomContext room;
  private final SnapshotBackup backup;
  private final Connections connections;
  private final BackupSchedule backups;
  private final OutputGate gate;
  private int loadFailures;

  ColdStart(RoomContext room, SnapshotBackup backup, Connections connections, BackupSchedule backups, OutputGate gate) {
    this.room = room;
    this.backup = backup;
    this.connections = connections;
    this.backups = backups;
    this.gate = gate;
  }

  /** Asks the backup for the room's snapshot; the answer comes back as {@link LoadDone}. */
  void start() {
    room.metrics().backupLoads.increment();
    room.actor().pipeToSelf(backup.load(room.roomId()), (result, failure) -> new LoadDone(result, failure));
  }

  /**
   * The load's answer, to a room that has not loaded yet; {@code blocking}: it held every command
   * back meanwhile (a new room), so nobody has seen the document yet.
   */
  Step onLoadDone(RoomState state, LoadDone done, boolean blocking) {
    if (done.failure() != null) {
      loadFailures++;
      Duration retry = Backoff.after(loadFailures, FIRST_RETRY, room.settings().alarms().loadRetryMax());
      log.warn("room {}: backup load failed ({}); retrying in {} s; clients may edit, nothing is saved until the load succeeds",
          room.roomId(), BackupException.describe(done.failure()), retry.toSeconds());
      room.timers().startSingleTimer("retry-load", new RetryLoad(), retry);
      return Step.none();
    }
    byte[] loaded = done.backup().map(SnapshotBackup.Backup::state).orElse(new byte[0]);
    long loadedUpdates = done.backup().map(SnapshotBackup.Backup::updates).orElse(0L);
    if (loaded.length > 0) {
      try {
        state.doc().prepare(loaded); // a backup that is not a Yjs update must not become the document
      } catch (RuntimeException e) {
        log.error("room {}: the backup is not a valid Yjs update ({}); it is kept as it is and this room never saves over it",
            room.roomId(), e.getMessage());
        return Step.none();
      }
    }
    loadFailures = 0;
    backups.backupMerged(); // the document starts from the backup
    if (loaded.length == 0 && loadedUpdates == 0 && state.updates() == 0) {
      // a new document, and nobody has edited it yet: the load is journaled with the first update (one write), so
      // opening a new document writes nothing, and one nobody edits passivates without having written at all
      gate.journalBeforeNextUpdate(new BackupLoaded(loaded, 0));
      if (connections.isEmpty()) backups.scheduleFinal();
      return Step.none();
    }
    byte[] frame = loaded.length > 0 ? SyncProtocol.update(loaded) : null;
    return Step.persist(new BackupLoaded(loaded, loadedUpdates), s -> {
      gate.remeasure(); // the backup changed the document
      if (!blocking && frame != null) connections.broadcast(frame, null); // a late load is an update like any other
      // everyone left while the load was failing: the save they are owed could not be made before; schedule it now
      // (also a room started by no one, e.g. remember-entities, passivates unless someone comes)
      if (connections.isEmpty()) backups.scheduleFinal();
    });
  }
}
