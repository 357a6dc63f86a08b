package dev.ripple.collab.room;

import akka.persistence.typed.PersistenceId;
import dev.ripple.collab.backup.SnapshotBackup;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The room policy for a node's throwaway warm-up rooms (see {@code node/Warmup}): ids with the
 * prefix {@value #ROOM_PREFIX}, never read from or saved to the backup, no webhooks.
 */
public final class WarmupRooms {
  /** Room ids of warm-up rooms start with this. */
  public static final String ROOM_PREFIX = "~warmup~";

  private WarmupRooms() {}

  public static boolean isWarmupRoom(String roomId) {
    return roomId.startsWith(ROOM_PREFIX);
  }

  /** The prefix of the persistence ids of the rooms whose id starts with {@code roomIdPrefix}. */
  public static String persistenceIdPrefix(String roomIdPrefix) {
    return PersistenceId.of(RoomProtocol.ENTITY_TYPE_KEY.name(), roomIdPrefix).id();
  }

  /** A backup that stores nothing and has nothing: warm-up rooms never touch Convex. */
  public static final SnapshotBackup NO_BACKUP = new SnapshotBackup() {
    @Override
    public CompletionStage<SaveResult> save(String roomId, byte[] state, long updates) {
      return CompletableFuture.completedFuture(SaveResult.Stored.INSTANCE);
    }

    @Override
    public CompletionStage<Optional<Backup>> load(String roomId) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
  };
}
