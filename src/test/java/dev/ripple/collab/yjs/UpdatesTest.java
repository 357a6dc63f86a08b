package dev.ripple.collab.yjs;

import static dev.ripple.collab.yjs.YjsTestSupport.fixture;
import static dev.ripple.collab.yjs.YjsTestSupport.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Document-free update operations against yjs's own outputs (fixture group "updates"): u1, u2, u3 =
 * client 1 types "abc", appends "def", appends "ghi" (clocks 0..2, 3..5, 6..8); u4 = client 2
 * inserts "Z" after "a" (knows only u1); u5 = client 2 deletes "b" (a delete set only).
 */
class UpdatesTest {
  private static final byte[] U1 = fixture("updates.u1");
  private static final byte[] U2 = fixture("updates.u2");
  private static final byte[] U3 = fixture("updates.u3");
  private static final byte[] U4 = fixture("updates.u4");
  private static final byte[] U5 = fixture("updates.u5");

  private static String merge(byte[]... updates) {
    return hex(Updates.mergeUpdates(List.of(updates)));
  }

  private static List<Struct> structsOf(byte[] update) {
    return UpdateReader.read(update).blocks().stream().flatMap(b -> b.refs.stream()).toList();
  }

  // ---------------------------------------------------------------- mergeUpdates

  @Test
  void mergeOfConsecutiveUpdatesOfOneClientIsWhatYjsWrites() {
    assertEquals(hex(fixture("updates.merge.u1u2")), merge(U1, U2));
  }

  @Test
  void mergeOfConsecutiveUpdatesInReverseOrderIsWhatYjsWrites() {
    assertEquals(hex(fixture("updates.merge.u2u1")), merge(U2, U1));
    assertEquals(merge(U1, U2), merge(U2, U1));
  }

  @Test
  void mergeAcrossAGapWritesASkipStruct() {
    String merged = merge(U1, U3);
    assertEquals(hex(fixture("updates.merge.u1u3")), merged);
    List<Struct> structs = structsOf(fixture("updates.merge.u1u3"));
    SkipStruct skip = assertInstanceOf(SkipStruct.class, structs.get(1));
    assertEquals(3, skip.clock());
    assertEquals(3, skip.length());
  }

  @Test
  void mergeFillsTheGapWhenTheMissingUpdateIsAdded() {
    String merged = hex(Updates.mergeUpdates(List.of(fixture("updates.merge.u1u3"), U2)));
    assertEquals(hex(fixture("updates.merge.u1u3u2")), merged);
    assertEquals(0, structsOf(YjsTestSupport.unhex(merged)).stream().filter(s -> s instanceof SkipStruct).count());
  }

  @Test
  void mergeOfAnUpdateWithItselfContainedWritesEachStructOnce() {
    assertEquals(hex(fixture("updates.merge.u12u2")), merge(fixture("updates.merge.u1u2"), U2));
    assertEquals(hex(fixture("updates.merge.u1u2")), merge(fixture("updates.merge.u1u2"), U2));
  }

  @Test
  void mergeOfPartiallyOverlappingUpdatesIsWhatYjsWrites() {
    assertEquals(hex(fixture("updates.merge.u12u23")),
        merge(fixture("updates.merge.u1u2"), Updates.mergeUpdates(List.of(U2, U3))));
  }

  @Test
  void mergeOfSeveralClientsWithDeletesIsWhatYjsWrites() {
    assertEquals(hex(fixture("updates.merge.all")), merge(U1, U2, U3, U4, U5));
  }

  @Test
  void mergeWritesClientsInDescendingOrderWhateverTheInputOrder() {
    assertEquals(hex(fixture("updates.merge.u5u4u1")), merge(U5, U4, U1));
  }

  @Test
  void mergeOfOneUpdateReturnsItUnchanged() {
    assertEquals(hex(U4), merge(U4));
  }

  @Test
  void mergeLeavesItsInputsUnchanged() {
    byte[] a = fixture("updates.merge.u1u2");
    byte[] b = fixture("updates.merge.u1u2");
    Updates.mergeUpdates(List.of(a, U2, U3));
    assertEquals(hex(b), hex(a));
  }

  @Test
  void mergedUpdateAppliesToTheSameStateAsItsParts() {
    YDoc parts = new YDoc();
    for (byte[] u : List.of(U1, U2, U3, U4, U5)) parts.apply(u);
    YDoc merged = new YDoc();
    merged.apply(fixture("updates.merge.all"));
    assertEquals(hex(parts.encodeStateAsUpdate()), hex(merged.encodeStateAsUpdate()));
  }

  @Test
  void mergeRejectsAMalformedUpdate() {
    byte[] truncated = Arrays.copyOf(U1, U1.length - 2);
    assertThrows(UpdateFormatException.class, () -> Updates.mergeUpdates(List.of(U2, truncated)));
  }

  // ---------------------------------------------------------------- diffUpdate

  @Test
  void diffAgainstEmptyStateVectorIsTheWholeUpdate() {
    byte[] all = fixture("updates.merge.all");
    assertEquals(hex(fixture("updates.diff.all.empty")), hex(Updates.diffUpdate(all, fixture("updates.sv.empty"))));
  }

  @Test
  void diffAgainstAClockInsideAStructSlicesIt() {
    byte[] all = fixture("updates.merge.all");
    assertEquals(hex(fixture("updates.diff.all.1_2")), hex(Updates.diffUpdate(all, fixture("updates.sv.1_2"))));
  }

  @Test
  void diffAgainstACompleteStateVectorKeepsOnlyTheDeleteSet() {
    byte[] all = fixture("updates.merge.all");
    String diff = hex(Updates.diffUpdate(all, fixture("updates.sv.1_9_2_1")));
    assertEquals(hex(fixture("updates.diff.all.1_9_2_1")), diff);
    assertEquals(0, structsOf(fixture("updates.diff.all.1_9_2_1")).size());
  }

  @Test
  void diffAgainstOneClientsStateKeepsTheOtherClient() {
    byte[] all = fixture("updates.merge.all");
    assertEquals(hex(fixture("updates.diff.all.2_1")), hex(Updates.diffUpdate(all, fixture("updates.sv.2_1"))));
  }

  @Test
  void diffOfAnUpdateWithAGapKeepsTheSkipAfterTheCut() {
    byte[] gap = fixture("updates.merge.u1u3");
    assertEquals(hex(fixture("updates.diff.u1u3.1_2")), hex(Updates.diffUpdate(gap, fixture("updates.sv.1_2"))));
  }

  @Test
  void diffAgainstAClockInsideTheGapStartsAtTheNextStruct() {
    byte[] gap = fixture("updates.merge.u1u3");
    assertEquals(hex(fixture("updates.diff.u1u3.1_4")), hex(Updates.diffUpdate(gap, fixture("updates.sv.1_4"))));
  }

  @Test
  void diffRejectsAMalformedStateVector() {
    byte[] all = fixture("updates.merge.all");
    assertThrows(UpdateFormatException.class, () -> Updates.diffUpdate(all, new byte[] {2, 1}));
  }

  // ---------------------------------------------------------------- encodeStateVectorFromUpdate

  @Test
  void stateVectorFromUpdateCoversEveryClientFromClockZero() {
    assertEquals(hex(fixture("updates.svFrom.all")), hex(Updates.encodeStateVectorFromUpdate(fixture("updates.merge.all"))));
    assertEquals(java.util.Map.of(1L, 9L, 2L, 1L), StateVectors.decode(fixture("updates.svFrom.all")));
  }

  @Test
  void stateVectorFromUpdateStopsAtAGap() {
    assertEquals(hex(fixture("updates.svFrom.u1u3")), hex(Updates.encodeStateVectorFromUpdate(fixture("updates.merge.u1u3"))));
    assertEquals(java.util.Map.of(1L, 3L), StateVectors.decode(fixture("updates.svFrom.u1u3")));
  }

  @Test
  void stateVectorFromUpdateOmitsAClientThatDoesNotStartAtClockZero() {
    assertEquals(hex(fixture("updates.svFrom.u3")), hex(Updates.encodeStateVectorFromUpdate(U3)));
    assertEquals("00", hex(Updates.encodeStateVectorFromUpdate(U3)));
  }

  @Test
  void stateVectorFromUpdateOfOneItemIsItsEnd() {
    assertEquals(hex(fixture("updates.svFrom.u4")), hex(Updates.encodeStateVectorFromUpdate(U4)));
  }

  @Test
  void stateVectorFromDeleteOnlyUpdateIsEmpty() {
    assertEquals(hex(fixture("updates.svFrom.u5")), hex(Updates.encodeStateVectorFromUpdate(U5)));
  }
}
