package dev.ripple.collab.room;

import dev.ripple.collab.yjs.YDoc;

/** What a room journals; {@link RoomState#apply} is the only place they change the state. */
public sealed interface RoomEvent {

  /**
   * A client update, as received; replaying the journal replays the document. {@code prepared}: the
   * update as the output gate validated it against the live document, so that applying it does not
   * decode it again; never journaled (null after a replay).
   */
  record UpdateApplied(byte[] update, YDoc.PreparedUpdate prepared) implements RoomEvent {
    public UpdateApplied(byte[] update) {
      this(update, null);
    }
  }

  /** The room compacted its journal into a snapshot (room emptied, or history limits reached). */
  record Compacted() implements RoomEvent {}

  /**
   * The backup was loaded at cold start (empty array: there was none, a new document), covering
   * {@code updates} updates of the room's earlier life: the count continues above it, so the next
   * saves are newer than the backup's (journal entries from before the count read as 0). Also what a
   * room journals when it catches up after a refused save: {@code state} is then what the backup had
   * and the room lacked (possibly nothing), merged like a client update, and the count again continues
   * above the backup's.
   */
  record BackupLoaded(byte[] state, long updates) implements RoomEvent {}

  /** The backup confirmed a save covering the first {@code updates} journaled updates. */
  record BackupConfirmed(long updates) implements RoomEvent {}

  /** The webhook acknowledged (2xx) a notification covering the first {@code updates} journaled updates. */
  record WebhookDelivered(long updates) implements RoomEvent {}
}
