package dev.ripple.collab.room;

import dev.ripple.collab.yjs.YDoc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A room's persisted state: the document and its counters. Only {@link #apply} changes it, from
 * journaled events (live or replayed); the command side reads it.
 */
public final class RoomState {
  private static final Logger log = LoggerFactory.getLogger(RoomState.class);

  /** The snapshot payload: the full document state as one Yjs update, and the backup bookkeeping. */
  public record Snapshot(byte[] state, long updates, long savedUpdates, boolean loaded, long notifiedUpdates) {}

  private final String roomId;
  private final YDoc doc;
  /** Updates journaled since the room was created, plus those its cold-start backup covered. */
  private long updates;
  /** The backup has the first {@code savedUpdates}. */
  private long savedUpdates;
  /** The webhook has been told of the first {@code notifiedUpdates}; a notification is owed past them. */
  private long notifiedUpdates;
  /** Whether the cold-start load succeeded (or this room began with local state): no save before it. */
  private boolean loaded;
  private long updatesSinceCompaction;
  private long bytesSinceCompaction;
  /** Counts the document's changes (not persisted): what an encoding of the document was made from. */
  private long version;

  RoomState(String roomId, YDoc doc) {
    this.roomId = roomId;
    this.doc = doc;
  }

  /** The state a snapshot was taken of, in {@code doc} (empty). */
  static RoomState of(String roomId, YDoc doc, Snapshot snap) {
    RoomState s = new RoomState(roomId, doc);
    doc.apply(snap.state());
    s.updates = snap.updates();
    s.savedUpdates = snap.savedUpdates();
    s.loaded = snap.loaded();
    s.notifiedUpdates = snap.notifiedUpdates();
    return s;
  }

  /** This state as a snapshot, its document encoded as {@code fullState}. */
  Snapshot snapshot(byte[] fullState) {
    return new Snapshot(fullState, updates, savedUpdates, loaded, notifiedUpdates);
  }

  /** The event handler: the one place the state changes. */
  RoomState apply(RoomEvent event) {
    if (event instanceof RoomEvent.UpdateApplied e) {
      try {
        if (e.prepared() != null && e.prepared().appliesTo(doc)) doc.apply(e.prepared());
        else doc.apply(e.update()); // recovery: replaying the journal
      } catch (RuntimeException ex) {
        // validated before it was journaled; should a journal still hold a bad update, skip it, keep the room
        log.error("room {}: journaled update could not be applied: {}", roomId, ex.toString());
      }
      version++;
      updates++;
      updatesSinceCompaction++;
      bytesSinceCompaction += e.update().length;
    } else if (event instanceof RoomEvent.BackupLoaded e) {
      if (e.state().length > 0) {
        try {
          doc.apply(e.state());
        } catch (RuntimeException ex) {
          log.error("room {}: journaled backup could not be applied: {}", roomId, ex.toString());
        }
        version++;
      }
      updates += e.updates();
      savedUpdates = Math.max(savedUpdates, e.updates());
      notifiedUpdates += e.updates(); // what the backup holds is not a change to notify
      loaded = true;
    } else if (event instanceof RoomEvent.BackupConfirmed e) {
      savedUpdates = Math.max(savedUpdates, e.updates());
    } else if (event instanceof RoomEvent.WebhookDelivered e) {
      notifiedUpdates = Math.max(notifiedUpdates, e.updates());
    } else if (event instanceof RoomEvent.Compacted) {
      updatesSinceCompaction = 0;
      bytesSinceCompaction = 0;
    }
    return this;
  }

  public YDoc doc() {
    return doc;
  }

  /** A save is owed: the durable alarm, part of the persisted state. */
  public boolean dirty() {
    return updates > savedUpdates;
  }

  public boolean loaded() {
    return loaded;
  }

  public long updates() {
    return updates;
  }

  long notifiedUpdates() {
    return notifiedUpdates;
  }

  long updatesSinceCompaction() {
    return updatesSinceCompaction;
  }

  long bytesSinceCompaction() {
    return bytesSinceCompaction;
  }

  long version() {
    return version;
  }
}
