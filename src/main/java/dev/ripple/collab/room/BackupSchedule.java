package dev.ripple.collab.room;

import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import dev.ripple.collab.backup.BackupException;
import dev.ripple.collab.backup.SnapshotBackup;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.RoomEvent.BackupConfirmed;
import dev.ripple.collab.room.RoomEvent.BackupLoaded;
import dev.ripple.collab.room.RoomProtocol.Command;
import dev.ripple.collab.yjs.Updates;
import dev.ripple.collab.yjs.YDoc;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A room's saves to the backup, as Durable Object alarms: every {@code period} (30 s) while connections
 * exist, once {@code debounce} (7 s) after the last one left, and retried with {@link Backoff} when a
 * save fails, then {@code retry-later}. A save owed is persisted ({@link RoomState#dirty()}), so it
 * outlives the room. A save the backup refuses for a newer snapshot merges that snapshot first.
 */
final class BackupSchedule {
  private static final Logger log = LoggerFactory.getLogger(BackupSchedule.class);

  /** Alarm: the periodic save while connections exist. */
  record PeriodicSave() implements Command {}

  /** Alarm: the debounced save after the last connection left (or a retry later). */
  record FinalSave() implements Command {}

  /** Alarm: retry a failed save. */
  record RetrySave() implements Command {}

  /** A save finished, covering the first {@code updates} updates: stored, or refused for a newer backup ({@code result}), or failed. */
  record SaveDone(long updates, SnapshotBackup.SaveResult result, Throwable failure) implements Command {}

  /** After a refused save: the backup's newer snapshot, loaded to be merged (empty: it is gone), or the load failed. */
  record CatchUpLoaded(Optional<SnapshotBackup.Backup> backup, Throwable failure) implements Command {}

  private static final String PERIODIC = "periodic";
  private static final String FINAL = "final";
  private static final String RETRY = "retry-save";

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final String roomId;
  private final Settings.Alarms alarms;
  private final Metrics metrics;
  private final SnapshotBackup backup;
  private final EncodedStateCache encoded;
  private final Connections connections;
  private final OutputGate gate;
  /** What the room does once nothing is owed and nobody is connected: passivate. */
  private final Consumer<RoomState> whenIdle;
  private boolean saving;
  private int saveFailures;
  /** Saves refused in a row for a newer backup: a second refusal right after a catch-up waits with backoff. */
  private int saveRefusals;
  /**
   * Whether this incarnation's document already holds the backup: it loaded it (cold start) or merged
   * it (catch-up). A room that started from its local journal has not: the backup may hold edits
   * another node (or an earlier volume) made since, whatever the counts say.
   */
  private boolean backupMerged;

  BackupSchedule(RoomContext room, SnapshotBackup backup, EncodedStateCache encoded, Connections connections, OutputGate gate,
      Consumer<RoomState> whenIdle) {
    this.ctx = room.actor();
    this.timers = room.timers();
    this.roomId = room.roomId();
    this.alarms = room.settings().alarms();
    this.metrics = room.metrics();
    this.backup = backup;
    this.encoded = encoded;
    this.connections = connections;
    this.gate = gate;
    this.whenIdle = whenIdle;
  }

  /** A connection joined ({@code first}: the room had none): no final save; periodic saving (re)starts. */
  void joined(boolean first) {
    timers.cancel(FINAL); // a reconnect inside the debounce window: no final save
    if (first) timers.startTimerWithFixedDelay(PERIODIC, new PeriodicSave(), alarms.period());
  }

  /** The last connection left: the final save after the debounce. */
  void lastLeft() {
    timers.cancel(PERIODIC);
    scheduleFinal();
  }

  /** The final save (or, with nothing owed, the passivation) after the debounce. */
  void scheduleFinal() {
    timers.startSingleTimer(FINAL, new FinalSave(), alarms.debounce());
  }

  /** The document now holds the backup (the cold start loaded it): saves need no merge first. */
  void backupMerged() {
    backupMerged = true;
  }

  /** Nothing in flight or scheduled: no save running, no final save or retry waiting. */
  boolean idle() {
    return !saving && !timers.isTimerActive(FINAL) && !timers.isTimerActive(RETRY);
  }

  /** Saves the full state if a save is owed and allowed (after the load, one at a time, not empty). */
  Step save(RoomState state) {
    if (!state.loaded() || saving || !state.dirty()) return Step.none();
    byte[] full = encoded.fullState(state);
    long covered = state.updates();
    if (full.length <= 2) return Step.persist(new BackupConfirmed(covered)); // an empty document is not saved
    saving = true;
    if (!backupMerged) {
      // the first save of an incarnation that started from its journal: merge the backup first, so that a save
      // never replaces content the backup has and this room lacks (counts alone cannot tell)
      catchUp();
      return Step.none();
    }
    long started = System.nanoTime();
    ctx.pipeToSelf(backup.save(roomId, full, covered), (result, failure) -> {
      metrics.backupSaveSeconds.observeNanos(System.nanoTime() - started);
      (failure != null ? metrics.backupSavesFailed
          : result instanceof SnapshotBackup.SaveResult.KeptNewer ? metrics.backupSavesRefused : metrics.backupSavesOk).increment();
      return new SaveDone(covered, result, failure);
    });
    return Step.none();
  }

  /** The debounced save: made when nobody is connected and one is owed; with nothing owed the room passivates. */
  Step onFinalSave(RoomState state) {
    if (!connections.isEmpty()) return Step.none();
    if (state.dirty() && state.loaded()) return save(state);
    boolean loaded = state.loaded() || gate.holdsUnjournaled(); // a new document's empty load waits for its first update
    if (!loaded || !idle()) return Step.none(); // keep trying first
    whenIdle.accept(state);
    return Step.none();
  }

  Step onSaveDone(RoomState state, SaveDone done) {
    if (done.failure() != null) {
      saving = false;
      saveFailed(BackupException.describe(done.failure()));
      return Step.none();
    }
    if (done.result() instanceof SnapshotBackup.SaveResult.KeptNewer kept) {
      // not saved: the backup holds a snapshot covering more updates (another node served this room since this
      // one's journal was written). Taking that for confirmed would let a later save, once the count passes the
      // backup's, overwrite the other node's edits: catch up with them first. Still "saving": no passivation.
      log.info("room {}: the backup keeps a newer snapshot (covering {} updates; this save covered {}); merging it, then saving again",
          roomId, kept.updates().isPresent() ? Long.toString(kept.updates().getAsLong()) : "more", done.updates());
      saveRefusals++;
      catchUp();
      return Step.none();
    }
    saving = false;
    saveFailures = 0;
    saveRefusals = 0;
    return Step.persist(new BackupConfirmed(done.updates()), s -> {
      if (!connections.isEmpty() || timers.isTimerActive(FINAL)) return;
      // changes that arrived during the save are owed a save of their own (a FinalSave that fired meanwhile found
      // a save running and did nothing); otherwise the room is done
      if (s.dirty()) scheduleFinal();
      else whenIdle.accept(s);
    });
  }

  /**
   * The newer backup a refused save pointed at: what it has and the room lacks is merged like a client
   * update (journaled, then broadcast; Yjs updates commute, so nothing of either side is lost), the count
   * continues above the backup's, and the merged state is saved at once. Only a stored save confirms.
   */
  Step onCatchUpLoaded(RoomState state, CatchUpLoaded done) {
    saving = false;
    if (done.failure() != null) {
      saveFailed("loading the newer backup to merge it: " + BackupException.describe(done.failure()));
      return Step.none();
    }
    if (done.backup().isEmpty()) { // none (or gone meanwhile): nothing to merge, the next save is stored
      backupMerged = true;
      ctx.getSelf().tell(new RetrySave());
      return Step.none();
    }
    SnapshotBackup.Backup newer = done.backup().get();
    byte[] missing;
    try {
      missing = newer.state().length == 0 ? new byte[0] : Updates.diffUpdate(newer.state(), state.doc().stateVector());
      if (missing.length > 0) {
        YDoc.PreparedUpdate prepared = state.doc().prepare(missing); // the same checks as a client's update
        if (prepared.isEmpty() || prepared.isRedundant()) missing = new byte[0];
      }
    } catch (RuntimeException e) {
      log.error("room {}: the newer backup is not a valid Yjs update ({}); it is not merged", roomId, e.getMessage());
      saveFailed("the newer backup cannot be merged: " + e.getMessage());
      return Step.none();
    }
    byte[] frame = missing.length > 0 ? SyncProtocol.update(missing) : null;
    backupMerged = true;
    // the count goes just past the backup's (the merged state covers all of it), never further: a room that
    // merges at every start must not double its count each time
    long bump = newer.updates() >= state.updates() ? newer.updates() - state.updates() + 1 : 0;
    if (missing.length == 0 && bump == 0) { // the room has all of it and counts more: the save is stored as it is
      ctx.getSelf().tell(new RetrySave());
      return Step.none();
    }
    return Step.persist(new BackupLoaded(missing, bump), s -> {
      gate.remeasure(); // the backup changed the document
      if (frame != null) connections.broadcast(frame, null); // the other node's edits reach this room's clients
      // the merged state, covering more updates than the backup's; refused again right after a catch-up (a backup
      // that refuses everything, or a node saving as fast), it waits with the failures' backoff instead of looping
      if (saveRefusals <= 1) ctx.getSelf().tell(new RetrySave());
      else saveFailed("refused " + saveRefusals + " times in a row for a newer backup");
    });
  }

  private void catchUp() {
    metrics.backupLoads.increment();
    ctx.pipeToSelf(backup.load(roomId), (result, failure) -> new CatchUpLoaded(result, failure));
  }

  /** A save that failed (or whose catch-up failed) is retried with backoff, then later; the room stays dirty. */
  private void saveFailed(String why) {
    saveFailures++;
    if (saveFailures <= alarms.retries()) {
      Duration retry = Backoff.after(saveFailures, alarms.retryInitial(), alarms.retryLater());
      log.warn("room {}: backup save failed ({}); retry {} of {} in {} s", roomId, why, saveFailures, alarms.retries(), retry.toSeconds());
      timers.startSingleTimer(RETRY, new RetrySave(), retry);
    } else {
      log.error("room {}: backup save failed {} times ({}); the room stays dirty and tries again in {}",
          roomId, saveFailures - 1, why, alarms.retryLater().toSeconds() + " s");
      saveFailures = 0;
      if (connections.isEmpty()) timers.startSingleTimer(FINAL, new FinalSave(), alarms.retryLater());
    }
  }
}
