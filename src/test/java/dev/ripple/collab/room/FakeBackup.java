package dev.ripple.collab.room;

import dev.ripple.collab.backup.BackupException;
import dev.ripple.collab.backup.SnapshotBackup;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-memory backup for room tests: answers at once, records every save, and fails the next
 * saves or loads on demand. Like Convex, it keeps the newest state (a save with a lower count is
 * not stored and answers {@link SaveResult.KeptNewer}). (The HTTP contract itself is tested against the Convex stand-in.)
 */
final class FakeBackup implements SnapshotBackup {
  final Map<String, byte[]> stored = new ConcurrentHashMap<>();
  /** The count of updates each stored state covers; a room absent here counts 0. */
  final Map<String, Long> storedUpdates = new ConcurrentHashMap<>();
  final List<byte[]> saves = java.util.Collections.synchronizedList(new ArrayList<>());
  /** The count of updates each save covered, in the order of {@link #saves}. */
  final List<Long> saveUpdates = java.util.Collections.synchronizedList(new ArrayList<>());
  final AtomicInteger loads = new AtomicInteger();
  final AtomicInteger failSaves = new AtomicInteger();
  final AtomicInteger failLoads = new AtomicInteger();
  /** The next saves throw at once instead of failing their stage: a backup with a bug, for the room's backstop. */
  final AtomicInteger throwOnSave = new AtomicInteger();
  /** While set, saves complete only when it does: a slow backup. */
  volatile CompletableFuture<Void> holdSaves;

  @Override
  public synchronized CompletionStage<SaveResult> save(String roomId, byte[] state, long updates) {
    if (throwOnSave.getAndUpdate(n -> Math.max(0, n - 1)) > 0) throw new IllegalStateException("injected: a backup that throws");
    saves.add(state);
    saveUpdates.add(updates);
    if (failSaves.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      return CompletableFuture.failedFuture(new BackupException(roomId, 500, "injected failure"));
    }
    long kept = storedUpdates.getOrDefault(roomId, 0L);
    SaveResult result = kept <= updates ? SaveResult.Stored.INSTANCE : new SaveResult.KeptNewer(java.util.OptionalLong.of(kept));
    if (result instanceof SaveResult.Stored) {
      stored.put(roomId, state);
      storedUpdates.put(roomId, updates);
    }
    CompletableFuture<Void> hold = holdSaves;
    return hold != null ? hold.thenApply(v -> result) : CompletableFuture.completedFuture(result);
  }

  /** What a test puts in the backup before the room starts. */
  synchronized void put(String roomId, byte[] state, long updates) {
    stored.put(roomId, state);
    storedUpdates.put(roomId, updates);
  }

  @Override
  public synchronized CompletionStage<Optional<Backup>> load(String roomId) {
    loads.incrementAndGet();
    if (failLoads.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      return CompletableFuture.failedFuture(new BackupException(roomId, -1, "injected: connection refused"));
    }
    byte[] state = stored.get(roomId);
    return CompletableFuture.completedFuture(state == null ? Optional.empty()
        : Optional.of(new Backup(state, storedUpdates.getOrDefault(roomId, 0L))));
  }
}
