package dev.ripple.collab.yjs;

import static dev.ripple.collab.yjs.YjsTestSupport.NO_DELETES;
import static dev.ripple.collab.yjs.YjsTestSupport.assertRejectedUnchanged;
import static dev.ripple.collab.yjs.YjsTestSupport.b;
import static dev.ripple.collab.yjs.YjsTestSupport.cat;
import static dev.ripple.collab.yjs.YjsTestSupport.fixture;
import static dev.ripple.collab.yjs.YjsTestSupport.hex;
import static dev.ripple.collab.yjs.YjsTestSupport.missingFixture;
import static dev.ripple.collab.yjs.YjsTestSupport.oneBlock;
import static dev.ripple.collab.yjs.YjsTestSupport.rootItem;
import static dev.ripple.collab.yjs.YjsTestSupport.snapshot;
import static dev.ripple.collab.yjs.YjsTestSupport.vs;
import static dev.ripple.collab.yjs.YjsTestSupport.vu;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Malformed updates are rejected with an {@link UpdateFormatException} that names the problem, and
 * leave the document exactly as it was. The document under test holds real content (fixture
 * {@code malformed.base}, client 1) and a pending update (client 7, missing clock 0), so that
 * "unchanged" covers the store, the state vector and the pending structs.
 *
 * <p>Hand-made updates use client 5 and root "t"; each malformed case has a well-formed twin
 * that is accepted, so the rejection is due to the one field that was broken.
 */
class MalformedUpdateTest {
  private static final long MAX_SAFE = (1L << 53) - 1;

  private YDoc doc;

  @BeforeEach
  void loadBaseAndPending() {
    doc = new YDoc();
    doc.apply(fixture("malformed.base"));
    doc.apply(fixture("malformed.pending"));
  }

  private void assertAccepted(byte[] update) {
    String before = hex(doc.encodeStateAsUpdate());
    doc.apply(update);
    assertNotEquals(before, hex(doc.encodeStateAsUpdate()), "the well-formed twin changes the document");
  }

  // ---------------------------------------------------------------- the yjs fixture itself

  @Test
  void documentUnderTestHoldsWhatYjsHoldsForBaseAndPending() {
    assertEquals(hex(fixture("malformed.before.state")), hex(doc.encodeStateAsUpdate()));
    assertEquals(hex(fixture("malformed.before.sv")), hex(doc.stateVector()));
    assertEquals(missingFixture("malformed.before.missing"), Map.copyOf(doc.pendingMissing()));
    assertTrue(doc.hasPending());
  }

  @Test
  void completeMultiClientUpdateAppliesAsInYjs() {
    doc.apply(fixture("malformed.update"));
    assertEquals(hex(fixture("malformed.after.state")), hex(doc.encodeStateAsUpdate()));
    assertEquals(hex(fixture("malformed.after.sv")), hex(doc.stateVector()));
    assertEquals(missingFixture("malformed.after.missing"), Map.copyOf(doc.pendingMissing()));
    assertFalse(doc.hasPendingDeletes());
  }

  @Test
  void truncatedUpdateThrowsAtEveryByteAndLeavesDocUnchanged() {
    byte[] update = fixture("malformed.update");
    YjsTestSupport.Snapshot before = snapshot(doc);
    // The full update is read to its last byte, so no proper prefix can be a complete update:
    // every one of them must be rejected.
    List<Integer> accepted = new ArrayList<>();
    for (int len = 0; len < update.length; len++) {
      byte[] prefix = Arrays.copyOf(update, len);
      try {
        doc.apply(prefix);
        accepted.add(len);
        loadBaseAndPending();
      } catch (UpdateFormatException e) {
        assertEquals(before, snapshot(doc), "prefix of " + len + " bytes changed the document");
      } catch (RuntimeException e) {
        fail("prefix of " + len + " bytes threw " + e + " instead of an UpdateFormatException", e);
      }
    }
    assertEquals(List.of(), accepted, "prefixes that were accepted");
  }

  @Test
  void everySingleByteCorruptionIsAppliedOrRejectedWithoutChange() {
    // Some corruptions still form a valid update (another character, another clock...); the rest
    // must be rejected as malformed, never with another exception and never half-applied.
    byte[] update = fixture("malformed.update");
    YjsTestSupport.Snapshot before = snapshot(doc);
    int rejected = 0;
    for (int pos = 0; pos < update.length; pos++) {
      for (int v = 0; v < 256; v++) {
        if ((update[pos] & 0xFF) == v) continue;
        byte[] corrupt = update.clone();
        corrupt[pos] = (byte) v;
        try {
          doc.apply(corrupt);
          loadBaseAndPending();
        } catch (UpdateFormatException e) {
          rejected++;
          if (!before.equals(snapshot(doc))) fail("byte " + pos + " set to " + v + " was rejected but changed the document");
        } catch (RuntimeException | StackOverflowError e) {
          fail("byte " + pos + " set to " + v + " threw " + e, e);
        }
      }
    }
    assertTrue(rejected > 0);
  }

  @Test
  void truncationErrorNamesTheByteOffsetAtTheEnd() {
    byte[] update = fixture("malformed.update");
    byte[] prefix = Arrays.copyOf(update, update.length - 1);
    UpdateFormatException e = assertRejectedUnchanged(doc, prefix, "unexpected end");
    assertTrue(e.getMessage().contains("at byte " + prefix.length), e.getMessage());
  }

  // ---------------------------------------------------------------- (b) struct info / content ref

  @Test
  void wellFormedRootItemIsAccepted() {
    assertAccepted(oneBlock(5, 0, 1, rootItem(Content.STRING, "t", vs("hi"))));
    assertEquals(2L, doc.stateVectorMap().get(5L));
  }

  static IntStream unknownInfoBytes() {
    return IntStream.concat(IntStream.rangeClosed(11, 31), IntStream.of(0x80 | 11, 0x40 | 17, 0x20 | 31, 0xFF));
  }

  @ParameterizedTest(name = "info byte {0}")
  @MethodSource("unknownInfoBytes")
  void unknownContentRefInInfoByteIsRejected(int info) {
    byte[] update = oneBlock(5, 0, 1, cat(b(info), vu(1), vs("t"), vs("hi")));
    assertRejectedUnchanged(doc, update, "unknown struct/content ref " + (info & 0x1F));
  }

  @Test
  void badParentInfoIsRejected() {
    byte[] update = oneBlock(5, 0, 1, cat(b(Content.STRING), vu(2), vs("t"), vs("hi")));
    assertRejectedUnchanged(doc, update, "bad parent info 2");
  }

  @Test
  void zeroLengthStringContentIsRejected() {
    assertRejectedUnchanged(doc, oneBlock(5, 0, 1, rootItem(Content.STRING, "t", vs(""))), "string content of length 0");
  }

  @ParameterizedTest(name = "struct ref {0}")
  @ValueSource(ints = {0, 10})
  void zeroLengthGcOrSkipStructIsRejected(int ref) {
    assertRejectedUnchanged(doc, oneBlock(5, 0, 1, cat(b(ref), vu(0))), "struct of length 0");
  }

  // ---------------------------------------------------------------- (c) type ref

  @ParameterizedTest(name = "type ref {0}")
  @ValueSource(ints = {0, 1, 2, 4, 6})
  void knownTypeRefWithoutNameIsAccepted(int typeRef) {
    assertAccepted(oneBlock(5, 0, 1, rootItem(Content.TYPE, "t", vu(typeRef))));
  }

  @ParameterizedTest(name = "type ref {0}")
  @ValueSource(ints = {3, 5})
  void xmlElementAndHookTypeRefsWithNameAreAccepted(int typeRef) {
    assertAccepted(oneBlock(5, 0, 1, rootItem(Content.TYPE, "t", cat(vu(typeRef), vs("p")))));
  }

  @ParameterizedTest(name = "type ref {0}")
  @ValueSource(longs = {7, 9, 31, 1L << 40})
  void unknownTypeRefInContentTypeIsRejected(long typeRef) {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.TYPE, "t", vu(typeRef)));
    assertRejectedUnchanged(doc, update, "unknown type ref " + typeRef);
  }

  // ---------------------------------------------------------------- (d) Any tag

  @Test
  void contentAnyWithKnownTagsIsAccepted() {
    assertAccepted(oneBlock(5, 0, 1, rootItem(Content.ANY, "t", cat(vu(2), b(125, 5), b(126)))));
  }

  @ParameterizedTest(name = "tag {0}")
  @ValueSource(ints = {0, 115, 128, 255})
  void unknownAnyTagInContentAnyIsRejected(int tag) {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.ANY, "t", cat(vu(2), b(125, 5), b(tag))));
    assertRejectedUnchanged(doc, update, "unknown Any tag " + tag);
  }

  @Test
  void unknownAnyTagNestedInsideAnArrayValueIsRejected() {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.ANY, "t", cat(vu(1), b(117, 2, 126, 115))));
    assertRejectedUnchanged(doc, update, "unknown Any tag 115");
  }

  @Test
  void unknownAnyTagInSubdocumentOptionsIsRejected() {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.DOC, "t", cat(vs("guid"), b(118, 1), vs("meta"), b(115))));
    assertRejectedUnchanged(doc, update, "unknown Any tag 115");
  }

  // ---------------------------------------------------------------- (e) lengths that overflow

  @Test
  void stringLengthOf2Pow40IsRejected() {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.STRING, "t", cat(vu(1L << 40), b('a', 'b', 'c'))));
    assertRejectedUnchanged(doc, update, "string of 1099511627776 bytes exceeds");
  }

  @Test
  void rootNameLengthOf2Pow40IsRejected() {
    byte[] update = oneBlock(5, 0, 1, cat(b(Content.STRING), vu(1), vu(1L << 40), b('t'), vs("hi")));
    assertRejectedUnchanged(doc, update, "string of 1099511627776 bytes exceeds");
  }

  @Test
  void binaryContentLengthOf2Pow40IsRejected() {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.BINARY, "t", cat(vu(1L << 40), b(1, 2))));
    assertRejectedUnchanged(doc, update, "byte array of 1099511627776 bytes exceeds");
  }

  static Stream<Arguments> countsOf2Pow31() {
    long n = 1L << 31;
    byte[] item = rootItem(Content.STRING, "t", vs("hi"));
    return Stream.of(
        Arguments.of("client blocks", cat(vu(n), vu(1), vu(5), vu(0), item, NO_DELETES)),
        Arguments.of("structs", cat(vu(1), vu(n), vu(5), vu(0), item, NO_DELETES)),
        Arguments.of("Any content", oneBlock(5, 0, 1, rootItem(Content.ANY, "t", cat(vu(n), b(126))))),
        Arguments.of("JSON content", oneBlock(5, 0, 1, rootItem(Content.JSON, "t", cat(vu(n), vs("1"))))),
        Arguments.of("array", oneBlock(5, 0, 1, rootItem(Content.ANY, "t", cat(vu(1), b(117), vu(n), b(126))))),
        Arguments.of("object", oneBlock(5, 0, 1, rootItem(Content.ANY, "t", cat(vu(1), b(118), vu(n), vs("k"), b(126))))),
        Arguments.of("delete set clients", cat(vu(0), vu(n), vu(1), vu(1), vu(0), vu(1))),
        Arguments.of("delete ranges", cat(vu(0), vu(1), vu(1), vu(n), vu(0), vu(1))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("countsOf2Pow31")
  void countOf2Pow31IsRejected(String what, byte[] update) {
    assertRejectedUnchanged(doc, update, what + " count 2147483648 exceeds");
  }

  @Test
  void deletedContentLengthOf2Pow31IsRejected() {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.DELETED, "t", vu(1L << 31)));
    assertRejectedUnchanged(doc, update, "deleted length 2147483648 is too large");
  }

  @Test
  void structEndingAtMaxSafeIntegerIsAccepted() {
    // the header clock plus the string's length lands exactly on 2^53 - 1
    assertAccepted(oneBlock(5, MAX_SAFE - 2, 1, rootItem(Content.STRING, "t", vs("ab"))));
  }

  @Test
  void structClockPlusLengthBeyondMaxSafeIntegerIsRejected() {
    byte[] update = oneBlock(5, MAX_SAFE - 2, 1, rootItem(Content.STRING, "t", vs("abc")));
    assertRejectedUnchanged(doc, update, "clock of client 5 exceeds 2^53-1");
  }

  @Test
  void gcStructLengthBeyondMaxSafeIntegerIsRejected() {
    byte[] update = oneBlock(5, 1, 1, cat(b(0), vu(MAX_SAFE)));
    assertRejectedUnchanged(doc, update, "clock of client 5 exceeds 2^53-1");
  }

  @Test
  void headerClockBeyondMaxSafeIntegerIsRejected() {
    byte[] update = oneBlock(5, MAX_SAFE + 1, 1, rootItem(Content.STRING, "t", vs("a")));
    assertRejectedUnchanged(doc, update, "varUint exceeds 2^53-1");
  }

  @Test
  void deleteRangeEndBeyondMaxSafeIntegerIsRejected() {
    byte[] update = cat(vu(0), vu(1), vu(1), vu(1), vu(MAX_SAFE - 1), vu(2));
    assertRejectedUnchanged(doc, update, "delete range end exceeds 2^53-1");
  }

  // ---------------------------------------------------------------- (f) client ids

  @Test
  void clientIdOfMaxSafeIntegerIsAccepted() {
    assertAccepted(oneBlock(MAX_SAFE, 0, 1, rootItem(Content.STRING, "t", vs("hi"))));
    assertEquals(2L, doc.stateVectorMap().get(MAX_SAFE));
  }

  @Test
  void clientIdBeyondMaxSafeIntegerInStructHeaderIsRejected() {
    byte[] update = oneBlock(MAX_SAFE + 1, 0, 1, rootItem(Content.STRING, "t", vs("hi")));
    assertRejectedUnchanged(doc, update, "varUint exceeds 2^53-1");
  }

  @Test
  void clientIdBeyondMaxSafeIntegerInDeleteSetIsRejected() {
    byte[] update = cat(vu(0), vu(1), vu(MAX_SAFE + 1), vu(1), vu(0), vu(1));
    assertRejectedUnchanged(doc, update, "varUint exceeds 2^53-1");
  }

  @Test
  void originClientIdBeyondMaxSafeIntegerIsRejected() {
    byte[] item = cat(b(0x80 | Content.STRING), vu(MAX_SAFE + 1), vu(0), vs("hi"));
    assertRejectedUnchanged(doc, oneBlock(5, 0, 1, item), "varUint exceeds 2^53-1");
  }

  @Test
  void deleteOfExistingContentIsAccepted() {
    // the twin of the delete-set cases: client 1's clock 0 exists in the base
    assertAccepted(cat(vu(0), vu(1), vu(1), vu(1), vu(0), vu(1)));
  }

  // ---------------------------------------------------------------- (g) JSON texts

  @Test
  void wellFormedJsonInEmbedFormatAndJsonContentIsAccepted() {
    byte[] update = oneBlock(5, 0, 3,
        rootItem(Content.EMBED, "t", vs("{\"img\": \"x\"}")),
        cat(b(0x80 | Content.FORMAT), vu(5), vu(0), vs("bold"), vs("true")),
        cat(b(0x80 | Content.JSON), vu(5), vu(1), vu(2), vs("[1, 2]"), vs("undefined")));
    assertAccepted(update);
    assertEquals(4L, doc.stateVectorMap().get(5L));
  }

  @ParameterizedTest(name = "''{0}''")
  @ValueSource(strings = {"{", "", "[1,]", "{'a':1}", "NaN", "undefined", "01", "\"\\x\"", "{\"a\" 1}", "tru", "1 2"})
  void invalidJsonInEmbedIsRejected(String json) {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.EMBED, "t", vs(json)));
    assertRejectedUnchanged(doc, update, "invalid JSON");
  }

  @ParameterizedTest(name = "''{0}''")
  @ValueSource(strings = {"tru", "", "{\"a\":}", "[", "--1"})
  void invalidJsonInFormatValueIsRejected(String json) {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.FORMAT, "t", cat(vs("bold"), vs(json))));
    assertRejectedUnchanged(doc, update, "invalid JSON");
  }

  @ParameterizedTest(name = "''{0}''")
  @ValueSource(strings = {"[1,", "", "nul", "{\"a\":1,}", "1.", "Undefined"})
  void invalidJsonInJsonContentIsRejected(String json) {
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.JSON, "t", cat(vu(2), vs("1"), vs(json))));
    assertRejectedUnchanged(doc, update, "invalid JSON");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"ff", "c0af", "eda080", "e282", "f4908080"})
  void invalidUtf8InAStringIsRejectedAsYjsRejectsIt(String hex) {
    // lib0 reads strings with a fatal TextDecoder: yjs throws on these bytes, so must we
    byte[] bad = java.util.HexFormat.of().parseHex(hex);
    byte[] update = oneBlock(5, 0, 1, rootItem(Content.STRING, "t", cat(vu(bad.length), bad)));
    assertRejectedUnchanged(doc, update, "not valid UTF-8");
    assertAccepted(oneBlock(5, 0, 1, rootItem(Content.STRING, "t", vs("é"))));
  }

  // ---------------------------------------------------------------- (h) forward self-references

  @Test
  void originOnAnEarlierClockOfTheSameClientIsAccepted() {
    byte[] update = oneBlock(5, 0, 2,
        rootItem(Content.STRING, "t", vs("ab")),
        cat(b(0x80 | Content.STRING), vu(5), vu(1), vs("c")));
    assertAccepted(update);
    assertEquals(3L, doc.stateVectorMap().get(5L));
  }

  @ParameterizedTest(name = "origin clock {0}")
  @ValueSource(longs = {2, 3, 100})
  void forwardOriginToOwnClientIsRejected(long originClock) {
    byte[] update = oneBlock(5, 0, 2,
        rootItem(Content.STRING, "t", vs("ab")),
        cat(b(0x80 | Content.STRING), vu(5), vu(originClock), vs("c")));
    assertRejectedUnchanged(doc, update, "item 5:2 has a forward origin");
  }

  @ParameterizedTest(name = "right origin clock {0}")
  @ValueSource(longs = {2, 3, 100})
  void forwardRightOriginToOwnClientIsRejected(long rightOriginClock) {
    byte[] update = oneBlock(5, 0, 2,
        rootItem(Content.STRING, "t", vs("ab")),
        cat(b(0x40 | Content.STRING), vu(5), vu(rightOriginClock), vs("c")));
    assertRejectedUnchanged(doc, update, "item 5:2 has a forward right origin");
  }

  @ParameterizedTest(name = "parent clock {0}")
  @ValueSource(longs = {1, 2, 100})
  void forwardParentToOwnClientIsRejected(long parentClock) {
    // a nested map at 5:0; the item at 5:1 claims a parent at or after its own clock
    byte[] update = oneBlock(5, 0, 2,
        rootItem(Content.TYPE, "t", vu(YType.MAP)),
        cat(b(0x20 | Content.STRING), vu(0), vu(5), vu(parentClock), vs("key"), vs("v")));
    assertRejectedUnchanged(doc, update, "item 5:1 has a forward parent");
  }

  @Test
  void parentOnAnEarlierClockOfTheSameClientIsAccepted() {
    byte[] update = oneBlock(5, 0, 2,
        rootItem(Content.TYPE, "t", vu(YType.MAP)),
        cat(b(0x20 | Content.STRING), vu(0), vu(5), vu(0), vs("key"), vs("v")));
    assertAccepted(update);
    assertEquals(2L, doc.stateVectorMap().get(5L));
  }

  // ---------------------------------------------------------------- (i) null

  @Test
  void nullUpdateIsRejected() {
    assertRejectedUnchanged(doc, null, "update is null");
  }
}
