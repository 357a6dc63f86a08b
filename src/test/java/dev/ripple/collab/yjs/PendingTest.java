package dev.ripple.collab.yjs;

import static dev.ripple.collab.yjs.YjsTestSupport.fixture;
import static dev.ripple.collab.yjs.YjsTestSupport.hex;
import static dev.ripple.collab.yjs.YjsTestSupport.missingFixture;
import static dev.ripple.collab.yjs.YjsTestSupport.snapshot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Out-of-order delivery, with the yjs fixtures of group "pending": u1 = client 1 types "abc",
 * u2 = client 1 appends "def", u3 = client 2 inserts "XY" after "abcd" (depends on u1 and u2),
 * u4 = client 2 deletes "bcd" (a delete set only, on client 1's clocks 1..3). Expected states are
 * what a yjs doc holds after the same deliveries.
 */
class PendingTest {
  private static final byte[] U1 = fixture("pending.u1");
  private static final byte[] U2 = fixture("pending.u2");
  private static final byte[] U3 = fixture("pending.u3");
  private static final byte[] U4 = fixture("pending.u4");

  private static YDoc docWith(byte[]... updates) {
    YDoc d = new YDoc();
    for (byte[] u : updates) d.apply(u);
    return d;
  }

  /** Asserts that the doc holds exactly what yjs held at fixture {@code prefix}. */
  private static void assertLikeYjs(String prefix, YDoc d) {
    assertEquals(hex(fixture(prefix + ".state")), hex(d.encodeStateAsUpdate()), prefix + ".state");
    assertEquals(hex(fixture(prefix + ".sv")), hex(d.stateVector()), prefix + ".sv");
    Map<Long, Long> missing = d.pendingMissing();
    assertEquals(missingFixture(prefix + ".missing"), missing == null ? null : new TreeMap<>(missing), prefix + ".missing");
    assertEquals(fixture(prefix + ".pendingDs")[0] == 1, d.hasPendingDeletes(), prefix + ".pendingDs");
  }

  /** The visible text of root "text": the undeleted string items in list order. */
  private static String text(YDoc d) {
    StringBuilder sb = new StringBuilder();
    YType t = d.root("text");
    for (Item i = t == null ? null : t.firstItem(); i != null; i = i.right()) {
      if (!i.deleted() && i.content() instanceof Content.Str s) sb.append(s.text());
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------- structs with missing dependencies

  @Test
  void updateWithMissingDependencyStaysPending() {
    YDoc d = docWith(U3);
    assertTrue(d.hasPending());
    assertFalse(d.hasPendingDeletes());
    assertEquals("", text(d));
    assertLikeYjs("pending.s3", d);
  }

  @Test
  void stateVectorExcludesPendingStructs() {
    YDoc d = docWith(U3);
    assertEquals(Map.of(), d.stateVectorMap());
    assertEquals("00", hex(d.stateVector()));
  }

  @Test
  void pendingMissingNamesTheClientAndClockOfTheMissingOrigin() {
    YDoc d = docWith(U3);
    assertEquals(Map.of(1L, 0L), d.pendingMissing());
  }

  @Test
  void pendingMissingOfAGapInTheSameClientIsTheClockBeforeTheStruct() {
    // as yjs: u2 starts at clock 3, so the missing entry is 3 - 1
    YDoc d = docWith(U2);
    assertEquals(Map.of(1L, 2L), d.pendingMissing());
    assertLikeYjs("pending.s2", d);
  }

  @Test
  void partialDependencyMovesTheMissingClockForward() {
    YDoc d = docWith(U3, U1);
    assertEquals(Map.of(1L, 3L), d.pendingMissing());
    assertEquals(Map.of(1L, 3L), d.stateVectorMap());
    assertEquals("abc", text(d));
    assertLikeYjs("pending.s31", d);
  }

  @Test
  void deliveringTheLastDependencyAppliesThePendingStructs() {
    YDoc d = docWith(U3, U1, U2);
    assertFalse(d.hasPending());
    assertNull(d.pendingMissing());
    assertEquals(Map.of(1L, 6L, 2L, 2L), d.stateVectorMap());
    assertEquals("abcdXYef", text(d));
    assertLikeYjs("pending.s312", d);
  }

  @Test
  void outOfOrderDeliveryEndsInTheInOrderState() {
    assertEquals(hex(fixture("pending.s123.state")), hex(docWith(U3, U1, U2).encodeStateAsUpdate()));
    assertEquals(hex(fixture("pending.s123.state")), hex(docWith(U1, U2, U3).encodeStateAsUpdate()));
  }

  static Stream<String> deliveryOrders() {
    List<String> out = new ArrayList<>();
    permute("", "1234", out);
    return out.stream();
  }

  private static void permute(String prefix, String rest, List<String> out) {
    if (rest.isEmpty()) out.add(prefix);
    for (int i = 0; i < rest.length(); i++) {
      permute(prefix + rest.charAt(i), rest.substring(0, i) + rest.substring(i + 1), out);
    }
  }

  @ParameterizedTest(name = "order {0}")
  @MethodSource("deliveryOrders")
  void everyDeliveryOrderEndsInTheStateYjsReaches(String order) {
    byte[][] us = {U1, U2, U3, U4};
    YDoc d = new YDoc();
    for (char c : order.toCharArray()) d.apply(us[c - '1']);
    assertFalse(d.hasPending());
    assertEquals("aXYef", text(d));
    assertEquals(hex(fixture("pending.perm." + order)), hex(d.encodeStateAsUpdate()));
  }

  @Test
  void updateThatCompletesPendingStructsAndBuildsOnThemLeavesNothingPending() {
    // u3 waits for u2; u2u5 brings u2 and a client-3 struct that depends on u3
    YDoc d = docWith(U1, U3);
    d.apply(fixture("pending.u2u5"));
    assertFalse(d.hasPending());
    assertEquals("abcdXY!ef", text(d));
    assertLikeYjs("pending.s13_25", d);
  }

  @Test
  void mutuallyDependentStructsStayPendingTogether() {
    YDoc d = docWith(fixture("pending.mutual.u5"));
    assertLikeYjs("pending.mutual.s5", d);
    d.apply(fixture("pending.mutual.u6"));
    assertLikeYjs("pending.mutual.s56", d);
    assertEquals(Map.of(), d.stateVectorMap());
  }

  // ---------------------------------------------------------------- pending deletes

  @Test
  void deletesOfUnknownStructsStayPending() {
    YDoc d = docWith(U4);
    assertTrue(d.hasPendingDeletes());
    assertTrue(d.hasPending());
    assertNull(d.pendingMissing(), "no structs are pending, only deletes");
    assertEquals(Map.of(), d.stateVectorMap());
    assertLikeYjs("pending.s4", d);
  }

  @Test
  void pendingDeletesApplyToThePartThatArrivesAndKeepTheRest() {
    YDoc d = docWith(U4, U1);
    assertTrue(d.hasPendingDeletes(), "clock 3 of client 1 is still unknown");
    assertEquals("a", text(d));
    assertLikeYjs("pending.s41", d);
  }

  @Test
  void pendingDeletesApplyWhenAllTheirStructsArrive() {
    YDoc d = docWith(U4, U1, U2);
    assertFalse(d.hasPendingDeletes());
    assertFalse(d.hasPending());
    assertEquals("aef", text(d));
    assertLikeYjs("pending.s412", d);
  }

  // ---------------------------------------------------------------- idempotence

  @Test
  void duplicateDeliveryLeavesTheStateUnchanged() {
    YDoc d = docWith(U1, U2, U3, U4);
    YjsTestSupport.Snapshot once = snapshot(d);
    for (byte[] u : List.of(U1, U2, U3, U4)) d.apply(u);
    assertEquals(once, snapshot(d));
    assertEquals(hex(fixture("pending.s1234.state")), once.state());
  }

  @Test
  void duplicateDeliveryOfAPendingUpdateLeavesThePendingStateUnchanged() {
    YDoc d = docWith(U3);
    YjsTestSupport.Snapshot once = snapshot(d);
    d.apply(U3);
    assertEquals(once, snapshot(d));
  }

  @Test
  void duplicateDeliveryOfPendingDeletesLeavesThePendingStateUnchanged() {
    YDoc d = docWith(U4);
    YjsTestSupport.Snapshot once = snapshot(d);
    d.apply(U4);
    assertEquals(once, snapshot(d));
  }

  @Test
  void overlappingDeliveryAppliesOnlyTheNewPart() {
    YDoc d = docWith(U1, fixture("pending.u12"));
    assertEquals("abcdef", text(d));
    assertLikeYjs("pending.s1_12", d);
    assertEquals(hex(docWith(U1, U2).encodeStateAsUpdate()), hex(d.encodeStateAsUpdate()));
  }

  @Test
  void reapplyingTheFullStateIsANoOp() {
    YDoc d = docWith(U3, U1, U2, U4);
    YjsTestSupport.Snapshot once = snapshot(d);
    d.apply(d.encodeStateAsUpdate());
    assertEquals(once, snapshot(d));
  }

  // ---------------------------------------------------------------- pending cap

  private static YDoc cappedDoc(long cap) {
    return new YDoc(new YDoc.Options(true, cap));
  }

  @Test
  void updateThatWouldGoPendingBeyondTheCapIsRejectedAndDocUnchanged() {
    YDoc d = cappedDoc(U3.length - 1);
    d.apply(U1); // u3 also needs u2, so it would stay pending
    YjsTestSupport.Snapshot before = snapshot(d);
    PendingLimitException e = assertThrows(PendingLimitException.class, () -> d.apply(U3));
    assertTrue(e.getMessage().contains("over the cap of " + (U3.length - 1)), e.getMessage());
    assertEquals(before, snapshot(d));
    assertFalse(d.hasPending());
  }

  @Test
  void applicableUpdateOfTheSameSizeIsAcceptedUnderTheCap() {
    YDoc d = cappedDoc(U3.length - 1);
    d.apply(U1);
    d.apply(U2);
    d.apply(U3); // the very bytes rejected above, now applicable
    assertFalse(d.hasPending());
    assertEquals(hex(fixture("pending.s123.state")), hex(d.encodeStateAsUpdate()));
  }

  @Test
  void pendingUpdateExactlyAtTheCapIsAccepted() {
    YDoc d = cappedDoc(U3.length);
    d.apply(U3);
    assertTrue(d.hasPending());
    assertEquals(U3.length, d.pendingBytes());
  }

  @Test
  void pendingBytesAlreadyHeldCountTowardsTheCap() {
    YDoc d = cappedDoc(U3.length + 2);
    d.apply(U3);
    YjsTestSupport.Snapshot before = snapshot(d);
    // u4's five delete-set bytes would go pending too: 13 + 5 > 15
    assertThrows(PendingLimitException.class, () -> d.apply(U4));
    assertEquals(before, snapshot(d));
  }

  @Test
  void deletesThatWouldGoPendingBeyondTheCapAreRejected() {
    YDoc d = cappedDoc(3);
    assertThrows(PendingLimitException.class, () -> d.apply(U4));
    assertFalse(d.hasPending());
    assertEquals("0000", hex(d.encodeStateAsUpdate()));
  }

  @Test
  void updateThatCompletesPendingStructsIsAcceptedWhenPendingIsAtTheCap() {
    YDoc d = cappedDoc(U3.length);
    d.apply(U3);
    d.apply(U1);
    d.apply(U2);
    assertFalse(d.hasPending());
    assertEquals(0, d.pendingBytes());
    assertEquals("abcdXYef", text(d));
  }

  @Test
  void updateThatCompletesPendingStructsAndBuildsOnThemIsAcceptedWhenPendingIsAtTheCap() {
    // Nothing is pending once this update is applied (see the uncapped twin above), so the cap
    // cannot be exceeded: the update must be accepted.
    YDoc d = cappedDoc(U3.length);
    d.apply(U1);
    d.apply(U3);
    assertEquals(U3.length, d.pendingBytes());
    d.apply(fixture("pending.u2u5"));
    assertFalse(d.hasPending());
    assertEquals("abcdXY!ef", text(d));
    assertEquals(hex(fixture("pending.s13_25.state")), hex(d.encodeStateAsUpdate()));
  }
}
