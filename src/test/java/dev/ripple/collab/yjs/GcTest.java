package dev.ripple.collab.yjs;

import static dev.ripple.collab.yjs.YjsTestSupport.fixture;
import static dev.ripple.collab.yjs.YjsTestSupport.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Garbage collection of deleted content, against the yjs fixtures of group "gc":
 * <ul>
 *   <li>gc.text: client 1 typed "Hello secret world" and deleted "secret "; the input is the full
 *       history of a gc:false doc, so it still carries the deleted text;</li>
 *   <li>gc.nested: client 1 set map "m" key "child" to a Y.Map (clock 0) holding a = 1, b =
 *       "text-in-child", c = a Y.Array with "deep-secret" (clocks 1..4), set "keep" (clock 5),
 *       then deleted "child".</li>
 * </ul>
 */
class GcTest {
  private static YDoc doc(boolean gc, byte[]... updates) {
    YDoc d = new YDoc(new YDoc.Options(gc, YDoc.Options.DEFAULT.maxPendingBytes()));
    for (byte[] u : updates) d.apply(u);
    return d;
  }

  private static boolean contains(byte[] haystack, String needle) {
    return new String(haystack, StandardCharsets.ISO_8859_1)
        .contains(new String(needle.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1));
  }

  /** The structs an encoded update holds, as the engine decodes them (client blocks in order). */
  private static List<Struct> structsOf(byte[] update) {
    return UpdateReader.read(update).blocks().stream().flatMap(b -> b.refs.stream()).toList();
  }

  // ---------------------------------------------------------------- deleted text

  @Test
  void deletedTextBecomesDeletedContentWithGcOn() {
    YDoc d = doc(true, fixture("gc.text.input"));
    List<Struct> structs = d.store.structs(1L);
    assertEquals(3, structs.size());
    Item deleted = (Item) structs.get(1);
    assertTrue(deleted.deleted());
    assertInstanceOf(Content.Deleted.class, deleted.content());
    assertEquals(6, deleted.clock());
    assertEquals(7, deleted.length());
  }

  @Test
  void encodedStateWithGcOnHoldsNoDeletedTextAndIsShorter() {
    byte[] input = fixture("gc.text.input");
    assertTrue(contains(input, "secret "), "the input carries the deleted text");
    byte[] state = doc(true, input).encodeStateAsUpdate();
    assertFalse(contains(state, "secret"));
    assertEquals(input.length - 7, state.length, "seven bytes of text became a length");
  }

  @Test
  void encodedStateWithGcOnIsWhatYjsWrites() {
    assertEquals(hex(fixture("gc.text.gcOn")), hex(doc(true, fixture("gc.text.input")).encodeStateAsUpdate()));
  }

  @Test
  void deletedTextIsKeptWithGcOff() {
    byte[] state = doc(false, fixture("gc.text.input")).encodeStateAsUpdate();
    assertTrue(contains(state, "secret "));
    assertEquals(hex(fixture("gc.text.gcOff")), hex(state));
  }

  @Test
  void deletedItemKeepsItsStringContentWithGcOff() {
    YDoc d = doc(false, fixture("gc.text.input"));
    Item deleted = (Item) d.store.structs(1L).get(1);
    assertTrue(deleted.deleted());
    assertEquals("secret ", ((Content.Str) deleted.content()).text());
  }

  // ---------------------------------------------------------------- deleted nested type

  @Test
  void childrenOfDeletedNestedTypeBecomeOneGcStruct() {
    YDoc d = doc(true, fixture("gc.nested.input"));
    List<Struct> structs = d.store.structs(1L);
    assertEquals(3, structs.size(), "type item, merged GC of its children, kept item");
    Item type = (Item) structs.get(0);
    assertInstanceOf(Content.Deleted.class, type.content(), "the deleted type item itself keeps its place as Deleted");
    GcStruct gc = assertInstanceOf(GcStruct.class, structs.get(1));
    assertEquals(1, gc.clock());
    assertEquals(4, gc.length(), "four adjacent children merged");
    assertFalse(structs.get(2).deleted());
  }

  @Test
  void encodingOfDeletedNestedTypeUsesGcStructRefZero() {
    byte[] state = doc(true, fixture("gc.nested.input")).encodeStateAsUpdate();
    List<Struct> encoded = structsOf(state);
    assertEquals(3, encoded.size());
    GcStruct gc = assertInstanceOf(GcStruct.class, encoded.get(1));
    assertEquals(4, gc.length());
    // struct ref 0 followed by length 4, right after the deleted type item (info 0x21, root "m", key "child", length 1)
    assertTrue(hex(state).contains("2101016d056368696c64010004"), hex(state));
  }

  @Test
  void encodedStateOfDeletedNestedTypeHoldsNoChildContent() {
    byte[] state = doc(true, fixture("gc.nested.input")).encodeStateAsUpdate();
    assertFalse(contains(state, "text-in-child"));
    assertFalse(contains(state, "deep-secret"));
    assertTrue(contains(state, "kept"));
  }

  @Test
  void deletedNestedTypeEncodesAsYjsDoes() {
    assertEquals(hex(fixture("gc.nested.gcOn")), hex(doc(true, fixture("gc.nested.input")).encodeStateAsUpdate()));
  }

  @Test
  void deletingANestedTypeInALaterUpdateCollectsItsChildren() {
    YDoc d = doc(true, fixture("gc.nested.live"));
    assertTrue(contains(d.encodeStateAsUpdate(), "deep-secret"), "live content is not collected");
    d.apply(fixture("gc.nested.delete"));
    assertEquals(hex(fixture("gc.nested.twoStep")), hex(d.encodeStateAsUpdate()));
  }

  @Test
  void deletedNestedTypeAndChildrenAreKeptWithGcOff() {
    YDoc d = doc(false, fixture("gc.nested.input"));
    byte[] state = d.encodeStateAsUpdate();
    assertTrue(contains(state, "deep-secret"));
    assertEquals(hex(fixture("gc.nested.gcOff")), hex(state));
    assertTrue(d.store.structs(1L).stream().noneMatch(s -> s instanceof GcStruct));
  }

  // ---------------------------------------------------------------- GC structs across updates

  @Test
  void gcStructsFromSeparateUpdatesMergeInTheStore() {
    YDoc d = doc(true, fixture("gc.adjacent.u1"), fixture("gc.adjacent.u2"));
    List<Struct> structs = d.store.structs(9L);
    assertEquals(1, structs.size());
    assertEquals(4, structs.get(0).length());
    assertEquals(hex(fixture("gc.adjacent.state")), hex(d.encodeStateAsUpdate()));
  }

  // ---------------------------------------------------------------- deep nesting

  /** One update of client 5: an array in root "root" at clock 0, and in each array at clock i - 1 an array at clock i. */
  private static byte[] nestedArrays(int depth) {
    Lib0Encoder e = new Lib0Encoder(depth * 6 + 16);
    e.writeVarUint(1);
    e.writeVarUint(depth);
    e.writeVarUint(5);
    e.writeVarUint(0);
    e.writeUint8(Content.TYPE);
    e.writeVarUint(1);
    e.writeVarString("root");
    e.writeVarUint(YType.ARRAY);
    for (int clock = 1; clock < depth; clock++) {
      e.writeUint8(Content.TYPE);
      e.writeVarUint(0);
      e.writeVarUint(5);
      e.writeVarUint(clock - 1);
      e.writeVarUint(YType.ARRAY);
    }
    e.writeVarUint(0);
    return e.toByteArray();
  }

  @Test
  void deletingATypeNested100000DeepNeitherOverflowsTheStackNorHalfApplies() {
    // Refusing such nesting up front (UpdateFormatException, document unchanged) is as good as
    // collecting it; a StackOverflowError halfway through the delete is not.
    int depth = 100_000;
    YDoc d = doc(true);
    byte[] nesting = nestedArrays(depth);
    try {
      d.apply(nesting);
    } catch (UpdateFormatException refused) {
      assertEquals("0000", hex(d.encodeStateAsUpdate()));
      return;
    }
    byte[] deleteOutermost = YjsTestSupport.cat(YjsTestSupport.vu(0), YjsTestSupport.vu(1), YjsTestSupport.vu(5),
        YjsTestSupport.vu(1), YjsTestSupport.vu(0), YjsTestSupport.vu(1));
    YjsTestSupport.Snapshot before = YjsTestSupport.snapshot(d);
    try {
      d.apply(deleteOutermost);
    } catch (UpdateFormatException refused) {
      assertEquals(before, YjsTestSupport.snapshot(d));
      return;
    } catch (StackOverflowError e) {
      long deleted = d.store.structs(5L).stream().filter(Struct::deleted).count();
      fail("StackOverflowError while deleting; " + deleted + " of " + depth + " structs were left marked deleted");
    }
    List<Struct> structs = d.store.structs(5L);
    assertEquals(2, structs.size(), "the outermost item, then one GC struct for everything inside it");
    assertInstanceOf(Content.Deleted.class, ((Item) structs.get(0)).content());
    assertEquals(depth - 1, assertInstanceOf(GcStruct.class, structs.get(1)).length());
  }

  @Test
  void collectedStateReappliedToAFreshDocEncodesIdentically() {
    byte[] collected = fixture("gc.nested.gcOn");
    assertEquals(hex(collected), hex(doc(true, collected).encodeStateAsUpdate()));
    assertEquals(hex(collected), hex(doc(false, collected).encodeStateAsUpdate()));
  }
}
