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
 * saves or loads on demand. (The HTTP contract itself is tested against the Convex stand-in.)
 */
final class FakeBackup implements SnapshotBackup {
  final Map<String, byte[]> stored = new ConcurrentHashMap<>();
  final List<byte[]> saves = java.util.Collections.synchronizedList(new ArrayList<>());
  final AtomicInteger loads = new AtomicInteger();
  final AtomicInteger failSaves = new AtomicInteger();
  final AtomicInteger failLoads = new AtomicInteger();

  @Override
  public CompletionStage<Void> save(String roomId, byte[] state) {
    saves.add(state);
    if (failSaves.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      return CompletableFuture.failedFuture(new BackupException(roomId, 500, "injected failure"));
    }
    stored.put(roomId, state);
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public CompletionStage<Optional<byte[]>> load(String roomId) {
    loads.incrementAndGet();
    if (failLoads.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      return CompletableFuture.failedFuture(new BackupException(roomId, -1, "injected: connection refused"));
    }
    return CompletableFuture.completedFuture(Optional.ofNullable(stored.get(roomId)));
  }
}
