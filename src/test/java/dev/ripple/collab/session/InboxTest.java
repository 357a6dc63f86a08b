package dev.ripple.collab.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.protocol.Presence;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.testkit.TypedUpdates;
import dev.ripple.collab.yjs.Updates;
import dev.ripple.collab.yjs.YDoc;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The session's inbox alone: coalescing, order, its bound on a merge, byte accounting, awareness, malformed runs. */
class InboxTest {
  /** Not a Yjs update: an unterminated varUint where the struct count should be. */
  private static final byte[] GARBAGE = {(byte) 0xff};

  private static SyncProtocol.SyncUpdate update(int i) {
    return new SyncProtocol.SyncUpdate(TypedUpdates.typed(i), false);
  }

  private static void addUpdates(Inbox inbox, int from, int to) {
    for (int i = from; i < to; i++) {
      byte[] u = TypedUpdates.typed(i);
      inbox.add(new SyncProtocol.SyncUpdate(u, false), u.length);
    }
  }

  private static byte[] updateOf(Inbox.Batch batch) {
    return assertInstanceOf(SyncProtocol.SyncUpdate.class, batch.message()).update();
  }

  /** Client 7's clock after applying these updates in order. */
  private static Map<Long, Long> stateVector(byte[]... updates) {
    YDoc doc = new YDoc();
    for (byte[] u : updates) doc.apply(u);
    return doc.stateVectorMap();
  }

  private static SyncProtocol.AwarenessUpdate awareness(Presence.Entry... entries) {
    List<Presence.Entry> list = List.of(entries);
    return new SyncProtocol.AwarenessUpdate(Presence.encode(list), list);
  }

  @Test
  void consecutiveUpdatesLeaveAsOneMergedUpdateThatHoldsThemAll() {
    Inbox inbox = new Inbox(100);
    addUpdates(inbox, 0, 3);
    assertEquals(1, inbox.size(), "one run of updates is one room message");
    Inbox.Batch batch = inbox.poll();
    assertEquals(3, batch.coalesced());
    SyncProtocol.SyncUpdate merged = assertInstanceOf(SyncProtocol.SyncUpdate.class, batch.message());
    assertFalse(merged.step2());
    assertEquals(Map.of(7L, 3L), stateVector(merged.update()));
    assertEquals(merged.update().length, batch.bytes(), "a merged batch's size is the merged update's");
    assertTrue(inbox.isEmpty());
    assertEquals(0, inbox.bytes());
    assertNull(inbox.poll());
  }

  @Test
  void aSingleUpdateLeavesAsReceived() {
    Inbox inbox = new Inbox(100);
    SyncProtocol.SyncUpdate u = update(0);
    inbox.add(u, u.update().length);
    assertEquals(u.update().length, inbox.bytes());
    assertEquals(u.update().length, inbox.headBytes());
    Inbox.Batch batch = inbox.poll();
    assertSame(u.update(), updateOf(batch), "not merged, not copied");
    assertEquals(1, batch.coalesced());
    assertEquals(u.update().length, batch.bytes());
    assertEquals(0, inbox.bytes());
  }

  /**
   * The session adds each message with its size as received (the whole frame, 3 bytes more than the
   * update here). Counting the update that starts a run by its own length instead left those bytes
   * behind with every run, until an idle connection's inbox passed waiting-bytes and the session
   * stopped reading its socket. Also when a run with a malformed update is split up again.
   */
  @Test
  void anInboxThatWasEmptiedHoldsNoBytesWhateverSizesItsUpdatesWereAddedWith() {
    Inbox inbox = new Inbox(100);
    for (int i = 0; i < 1000; i++) {
      byte[] u = TypedUpdates.typed(i);
      int frame = SyncProtocol.update(u).length; // what Session passes: the whole message as received
      inbox.add(new SyncProtocol.SyncUpdate(u, false), frame);
      inbox.poll();
    }
    assertTrue(inbox.isEmpty());
    assertEquals(0, inbox.bytes(), "after 1000 runs, nothing waits");
    byte[] good = TypedUpdates.typed(1000);
    inbox.add(new SyncProtocol.SyncUpdate(good, false), SyncProtocol.update(good).length);
    inbox.add(new SyncProtocol.SyncUpdate(new byte[] {9, 9, 9}, false), 6); // malformed: the run is sent one by one
    assertEquals(SyncProtocol.update(good).length + 6, inbox.bytes());
    inbox.poll();
    inbox.poll();
    assertTrue(inbox.isEmpty());
    assertEquals(0, inbox.bytes(), "a run split up again gives back what it held");
  }

  @Test
  void aSyncStep1OrQueryStaysBetweenTheUpdatesSentBeforeAndAfterIt() {
    Inbox inbox = new Inbox(100);
    SyncProtocol.SyncStep1 step1 = new SyncProtocol.SyncStep1(new byte[] {0});
    SyncProtocol.QueryAwareness query = new SyncProtocol.QueryAwareness();
    addUpdates(inbox, 0, 2);
    inbox.add(step1, 3);
    addUpdates(inbox, 2, 3);
    inbox.add(query, 1);
    addUpdates(inbox, 3, 5);
    assertEquals(5, inbox.size());

    Inbox.Batch first = inbox.poll();
    assertEquals(2, first.coalesced());
    assertEquals(Map.of(7L, 2L), stateVector(updateOf(first)));
    Inbox.Batch second = inbox.poll();
    assertSame(step1, second.message());
    assertEquals(1, second.coalesced());
    assertEquals(3, second.bytes());
    Inbox.Batch third = inbox.poll();
    assertArrayEquals(TypedUpdates.typed(2), updateOf(third));
    assertSame(query, inbox.poll().message());
    Inbox.Batch last = inbox.poll();
    assertEquals(2, last.coalesced());
    // the runs, applied in the order they left, are everything in order
    assertEquals(Map.of(7L, 5L), stateVector(updateOf(first), updateOf(third), updateOf(last)));
    assertNull(inbox.poll());
  }

  @Test
  void aRunHoldsAtMostMaxCoalescedUpdatesAndTheNextOneStartsANewRun() {
    Inbox inbox = new Inbox(3);
    addUpdates(inbox, 0, 7);
    assertEquals(3, inbox.size(), "3 + 3 + 1");
    Inbox.Batch a = inbox.poll();
    Inbox.Batch b = inbox.poll();
    Inbox.Batch c = inbox.poll();
    assertEquals(List.of(3, 3, 1), List.of(a.coalesced(), b.coalesced(), c.coalesced()));
    assertEquals(Map.of(7L, 3L), stateVector(updateOf(a)));
    assertEquals(Map.of(7L, 6L), stateVector(updateOf(a), updateOf(b)));
    assertArrayEquals(TypedUpdates.typed(6), updateOf(c));
    assertTrue(inbox.isEmpty());
  }

  @Test
  void aMaxOfOneMergesNothing() {
    Inbox inbox = new Inbox(1);
    addUpdates(inbox, 0, 3);
    assertEquals(3, inbox.size());
    for (int i = 0; i < 3; i++) {
      Inbox.Batch batch = inbox.poll();
      assertEquals(1, batch.coalesced());
      assertArrayEquals(TypedUpdates.typed(i), updateOf(batch));
    }
  }

  @Test
  void bytesAreCountedAsReceivedAndGiveBackWhatEachBatchTook() {
    Inbox inbox = new Inbox(100);
    assertEquals(0, inbox.headBytes(), "nothing waits");
    int first = TypedUpdates.typed(0).length;
    inbox.add(update(0), first);
    inbox.add(update(1), 20); // a later update of a run counts with the size it was added with
    inbox.add(new SyncProtocol.SyncStep1(new byte[] {0}), 5);
    assertEquals(first + 25, inbox.bytes());
    assertEquals(first + 20, inbox.headBytes(), "the run of two updates, as received");
    inbox.poll();
    assertEquals(5, inbox.bytes());
    assertEquals(5, inbox.headBytes());
    inbox.poll();
    assertEquals(0, inbox.bytes());
    assertEquals(0, inbox.headBytes());
  }

  @Test
  void clearDropsEverything() {
    Inbox inbox = new Inbox(100);
    addUpdates(inbox, 0, 4);
    inbox.add(new SyncProtocol.QueryAwareness(), 1);
    inbox.clear();
    assertTrue(inbox.isEmpty());
    assertEquals(0, inbox.size());
    assertEquals(0, inbox.bytes());
    assertNull(inbox.poll());
  }

  @Test
  void consecutiveAwarenessUpdatesKeepTheNewestStatePerClientAndCountTheFirstMessagesBytes() {
    Inbox inbox = new Inbox(100);
    inbox.add(awareness(new Presence.Entry(1, 1, "{\"n\":\"a\"}")), 10);
    inbox.add(awareness(new Presence.Entry(2, 1, "{\"n\":\"b\"}")), 11);
    inbox.add(awareness(new Presence.Entry(1, 2, "{\"n\":\"a2\"}")), 12);
    assertEquals(1, inbox.size());
    assertEquals(10, inbox.bytes(), "what waits is the newest state per client, not the sum of what came");
    Inbox.Batch batch = inbox.poll();
    assertEquals(3, batch.coalesced());
    assertEquals(10, batch.bytes());
    SyncProtocol.AwarenessUpdate a = assertInstanceOf(SyncProtocol.AwarenessUpdate.class, batch.message());
    // client 1 was replaced, so it comes after client 2
    List<Presence.Entry> expected = List.of(new Presence.Entry(2, 1, "{\"n\":\"b\"}"), new Presence.Entry(1, 2, "{\"n\":\"a2\"}"));
    assertEquals(expected, a.entries());
    assertArrayEquals(Presence.encode(expected), a.update(), "the update is the entries kept, encoded");
    assertEquals(0, inbox.bytes());
  }

  @Test
  void anOlderClockDoesNotReplaceANewerOneAndAnEqualClockOnlyForARemoval() {
    Inbox inbox = new Inbox(100);
    inbox.add(awareness(new Presence.Entry(1, 5, "{\"v\":5}"), new Presence.Entry(2, 5, "{\"v\":5}")), 10);
    inbox.add(awareness(new Presence.Entry(1, 3, "{\"v\":3}")), 10); // older: ignored
    inbox.add(awareness(new Presence.Entry(2, 5, "{\"v\":\"same clock\"}")), 10); // equal, not a removal: ignored
    inbox.add(awareness(new Presence.Entry(2, 5, null)), 10); // equal clock, a removal: removes
    SyncProtocol.AwarenessUpdate a = (SyncProtocol.AwarenessUpdate) inbox.poll().message();
    assertEquals(List.of(new Presence.Entry(1, 5, "{\"v\":5}"), new Presence.Entry(2, 5, null)), a.entries());
  }

  @Test
  void awarenessNotYetValidatedIsNotCoalesced() {
    Inbox inbox = new Inbox(100);
    SyncProtocol.AwarenessUpdate raw1 = new SyncProtocol.AwarenessUpdate(new byte[] {0});
    SyncProtocol.AwarenessUpdate raw2 = new SyncProtocol.AwarenessUpdate(new byte[] {0});
    inbox.add(raw1, 4);
    inbox.add(raw2, 4);
    assertEquals(2, inbox.size());
    assertEquals(8, inbox.bytes());
    assertSame(raw1, inbox.poll().message());
    assertSame(raw2, inbox.poll().message());
  }

  @Test
  void anUpdateBetweenAwarenessUpdatesEndsTheirRun() {
    Inbox inbox = new Inbox(100);
    inbox.add(awareness(new Presence.Entry(1, 1, "{}")), 5);
    inbox.add(update(0), 7);
    inbox.add(awareness(new Presence.Entry(1, 2, "{}")), 5);
    assertEquals(3, inbox.size());
    assertEquals(17, inbox.bytes());
    assertEquals(List.of(new Presence.Entry(1, 1, "{}")), ((SyncProtocol.AwarenessUpdate) inbox.poll().message()).entries());
    assertInstanceOf(SyncProtocol.SyncUpdate.class, inbox.poll().message());
    assertEquals(List.of(new Presence.Entry(1, 2, "{}")), ((SyncProtocol.AwarenessUpdate) inbox.poll().message()).entries());
  }

  @Test
  void aRunWithAMalformedUpdateLeavesAsItsUpdatesOneByOneInOrder() {
    byte[] u0 = TypedUpdates.typed(0);
    byte[] u1 = TypedUpdates.typed(1);
    assertThrows(RuntimeException.class, () -> Updates.mergeUpdates(List.of(u0, GARBAGE, u1)), "the garbage must not merge");
    Inbox inbox = new Inbox(100);
    inbox.add(new SyncProtocol.SyncUpdate(u0, false), u0.length);
    inbox.add(new SyncProtocol.SyncUpdate(GARBAGE, false), GARBAGE.length);
    inbox.add(new SyncProtocol.SyncUpdate(u1, false), u1.length);
    inbox.add(new SyncProtocol.QueryAwareness(), 1);
    assertEquals(2, inbox.size());

    List<byte[]> left = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Inbox.Batch batch = inbox.poll();
      assertEquals(1, batch.coalesced(), "one by one");
      left.add(updateOf(batch));
      assertEquals(left.get(i).length, batch.bytes());
    }
    assertArrayEquals(u0, left.get(0));
    assertArrayEquals(GARBAGE, left.get(1));
    assertArrayEquals(u1, left.get(2));
    assertInstanceOf(SyncProtocol.QueryAwareness.class, inbox.poll().message(), "and then what came after the run");
    assertEquals(0, inbox.bytes());
    assertNull(inbox.poll());
  }
}
