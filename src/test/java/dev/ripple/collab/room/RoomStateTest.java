package dev.ripple.collab.room;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.yjs.YDoc;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The room's event application: the one place its state changes, for live events and replayed ones alike. */
class RoomStateTest {
  private static final byte[] HELLO = Base64.getDecoder().decode("AQEBAAQBBHRleHQFaGVsbG8A");
  private static final byte[] WORLD = Base64.getDecoder().decode("AQEBBYQBBAYgd29ybGQA");

  @Test
  void anUpdateTheGateValidatedIsAppliedOnceAndCountedWithItsBytes() {
    RoomState s = new RoomState("doc-1", new YDoc());
    YDoc.PreparedUpdate prepared = s.doc().prepare(HELLO);
    s.apply(new RoomEvent.UpdateApplied(HELLO, prepared));
    assertFalse(prepared.appliesTo(s.doc()), "the prepared form was the one applied");
    assertEquals(Map.of(1L, 5L), s.doc().stateVectorMap());
    assertEquals(1, s.updates());
    assertEquals(HELLO.length, s.bytesSinceCompaction());
    assertEquals(1, s.version());
    assertTrue(s.dirty(), "a journaled update is owed a save");
  }

  @Test
  void aReplayedUpdateWhosePreparedFormBelongsToAnotherDocumentIsAppliedFromItsBytes() {
    YDoc earlier = new YDoc(); // an earlier incarnation's document, as an in-memory journal may hand it back
    YDoc.PreparedUpdate stale = earlier.prepare(HELLO);
    RoomState s = new RoomState("doc-1", new YDoc());
    s.apply(new RoomEvent.UpdateApplied(HELLO, stale)).apply(new RoomEvent.UpdateApplied(WORLD));
    assertEquals(Map.of(1L, 11L), s.doc().stateVectorMap());
    assertTrue(stale.appliesTo(earlier), "the other document's prepared update is left alone");
    assertEquals(2, s.updates());
  }

  @Test
  void aJournaledUpdateThatCannotBeAppliedIsSkippedAndTheRoomCarriesOn() {
    RoomState s = new RoomState("doc-1", new YDoc());
    s.apply(new RoomEvent.UpdateApplied(new byte[] {9, 9, 9})).apply(new RoomEvent.UpdateApplied(HELLO));
    assertEquals(Map.of(1L, 5L), s.doc().stateVectorMap());
    assertEquals(2, s.updates(), "the count is the journal's, what a save covers");
  }

  @Test
  void theBackupCountsAsSavedAndNotifiedAndAnEmptyOneLeavesTheDocumentAsItIs() {
    RoomState s = new RoomState("doc-1", new YDoc());
    s.apply(new RoomEvent.BackupLoaded(new byte[0], 0));
    assertTrue(s.loaded());
    assertEquals(0, s.version(), "an empty backup does not change the document");
    s.apply(new RoomEvent.BackupLoaded(HELLO, 7));
    assertEquals(7, s.updates());
    assertFalse(s.dirty(), "what the backup holds is saved");
    assertEquals(7, s.notifiedUpdates(), "and is not a change to notify");
    assertEquals(1, s.version());
    s.apply(new RoomEvent.UpdateApplied(WORLD));
    assertTrue(s.dirty());
    s.apply(new RoomEvent.BackupConfirmed(8)).apply(new RoomEvent.BackupConfirmed(3));
    assertFalse(s.dirty(), "an older confirmation never takes the saved count back");
    s.apply(new RoomEvent.WebhookDelivered(8)).apply(new RoomEvent.WebhookDelivered(2));
    assertEquals(8, s.notifiedUpdates());
  }

  @Test
  void aCompactionResetsTheHistoryCountersOnlyAndASnapshotRoundTrips() {
    RoomState s = new RoomState("doc-1", new YDoc());
    s.apply(new RoomEvent.BackupLoaded(new byte[0], 0)).apply(new RoomEvent.UpdateApplied(HELLO)).apply(new RoomEvent.Compacted());
    assertEquals(0, s.updatesSinceCompaction());
    assertEquals(0, s.bytesSinceCompaction());
    assertEquals(1, s.updates());
    RoomState.Snapshot snap = s.snapshot(s.doc().encodeStateAsUpdate());
    RoomState back = RoomState.of("doc-1", new YDoc(), snap);
    assertArrayEquals(s.doc().stateVector(), back.doc().stateVector());
    assertEquals(s.updates(), back.updates());
    assertEquals(s.loaded(), back.loaded());
    assertEquals(s.dirty(), back.dirty());
  }
}
