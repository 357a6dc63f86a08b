package dev.ripple.collab.yjs;

import static dev.ripple.collab.yjs.YjsTestSupport.b;
import static dev.ripple.collab.yjs.YjsTestSupport.cat;
import static dev.ripple.collab.yjs.YjsTestSupport.vs;
import static dev.ripple.collab.yjs.YjsTestSupport.vu;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.yjs.DocJson.Kind;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link DocJson} on hand-made updates, one kind at a time; every expected string here is what
 * yjs 13.6.33 renders for the same update (checked once with conformance/yjs/docjson.mjs; the
 * differential test {@link DocJsonDifferentialTest} does that continuously on random traces).
 */
class DocJsonTest {

  // ---------------------------------------------------------------- building updates by hand

  /** A content: its ref, encoded body and length in clock units. */
  record C(int ref, byte[] body, int len) {}

  static C str(String s) {
    return new C(Content.STRING, vs(s), s.length());
  }

  static C embed(String json) {
    return new C(Content.EMBED, vs(json), 1);
  }

  static C format(String key, String json) {
    return new C(Content.FORMAT, cat(vs(key), vs(json)), 1);
  }

  static C type(int typeRef) {
    return new C(Content.TYPE, vu(typeRef), 1);
  }

  static C element(String nodeName) {
    return new C(Content.TYPE, cat(vu(YType.XML_ELEMENT), vs(nodeName)), 1);
  }

  static C hook(String hookName) {
    return new C(Content.TYPE, cat(vu(YType.XML_HOOK), vs(hookName)), 1);
  }

  static C any(byte[]... values) {
    return new C(Content.ANY, cat(vu(values.length), cat(values)), values.length);
  }

  static C json(String... texts) {
    byte[][] parts = new byte[texts.length][];
    for (int i = 0; i < texts.length; i++) parts[i] = vs(texts[i]);
    return new C(Content.JSON, cat(vu(texts.length), cat(parts)), texts.length);
  }

  static C binary(int... bytes) {
    return new C(Content.BINARY, cat(vu(bytes.length), b(bytes)), 1);
  }

  static C subdoc(String guid) {
    return new C(Content.DOC, cat(vs(guid), b(118, 0)), 1);
  }

  // lib0 Any values
  static byte[] aStr(String s) {
    return cat(b(119), vs(s));
  }

  static byte[] aInt(long n) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(125);
    long a = Math.abs(n);
    out.write((int) ((a > 0x3F ? 0x80 : 0) | (n < 0 ? 0x40 : 0) | (a & 0x3F)));
    a >>>= 6;
    while (a > 0) {
      out.write((int) ((a > 0x7F ? 0x80 : 0) | (a & 0x7F)));
      a >>>= 7;
    }
    return out.toByteArray();
  }

  static byte[] aF64(double d) {
    return cat(b(123), ByteBuffer.allocate(8).putDouble(d).array());
  }

  static byte[] aF32(float f) {
    return cat(b(124), ByteBuffer.allocate(4).putFloat(f).array());
  }

  static byte[] aBig(long n) {
    return cat(b(122), ByteBuffer.allocate(8).putLong(n).array());
  }

  static final byte[] A_TRUE = b(120);
  static final byte[] A_FALSE = b(121);
  static final byte[] A_NULL = b(126);
  static final byte[] A_UNDEF = b(127);

  static byte[] aBytes(int... bytes) {
    return cat(b(116), vu(bytes.length), b(bytes));
  }

  static byte[] aArr(byte[]... values) {
    return cat(b(117), vu(values.length), cat(values));
  }

  /** An object from alternating keys (String) and values (byte[]). */
  static byte[] aObj(Object... kv) {
    List<byte[]> parts = new ArrayList<>();
    for (int i = 0; i < kv.length; i += 2) {
      parts.add(vs((String) kv[i]));
      parts.add((byte[]) kv[i + 1]);
    }
    return cat(b(118), vu(kv.length / 2), cat(parts.toArray(new byte[0][])));
  }

  /** One client's structs, written in clock order from clock 0, and a delete set. */
  static final class U {
    private final long client;
    private final List<byte[]> structs = new ArrayList<>();
    private final List<long[]> deletes = new ArrayList<>();
    private long clock;

    U() {
      this(7);
    }

    U(long client) {
      this.client = client;
    }

    private long add(int info, byte[] placement, C c) {
      structs.add(cat(b(info | c.ref), placement, c.body));
      long at = clock;
      clock += c.len;
      return at;
    }

    /** An item in root {@code root} (under map key {@code key} if not null), with no neighbours. */
    long root(String root, String key, C c) {
      return add(key == null ? 0 : 0x20, cat(vu(1), vs(root), key == null ? b() : vs(key)), c);
    }

    /** An item in the type that item {@code parentClock} holds (under {@code key} if not null). */
    long in(long parentClock, String key, C c) {
      return add(key == null ? 0 : 0x20, cat(vu(0), vu(client), vu(parentClock), key == null ? b() : vs(key)), c);
    }

    /** An item right after the one whose last clock is {@code leftClock}, in the same parent (and key). */
    long after(long leftClock, C c) {
      return add(0x80, cat(vu(client), vu(leftClock)), c);
    }

    /** The last clock of the most recent item (what {@link #after} takes). */
    long last() {
      return clock - 1;
    }

    U delete(long from, long len) {
      deletes.add(new long[] {from, len});
      return this;
    }

    byte[] update() {
      byte[] ds = b(0);
      if (!deletes.isEmpty()) {
        List<byte[]> ranges = new ArrayList<>();
        deletes.stream().sorted((x, y) -> Long.compare(x[0], y[0])).forEach(r -> ranges.add(cat(vu(r[0]), vu(r[1]))));
        ds = cat(vu(1), vu(client), vu(ranges.size()), cat(ranges.toArray(new byte[0][])));
      }
      return cat(vu(1), vu(structs.size()), vu(client), vu(0), cat(structs.toArray(new byte[0][])), ds);
    }

    YDoc doc() {
      YDoc doc = new YDoc();
      doc.apply(update());
      assertTrue(!doc.hasPending() && !doc.hasPendingDeletes(), "hand-made update left pending structs");
      return doc;
    }
  }

  // ---------------------------------------------------------------- the updates

  /** Root "t": "hello " bold "wörld", an embed, bold ended, an emoji; the "h" deleted. */
  static byte[] textUpdate() {
    U u = new U();
    u.root("t", null, str("hello "));
    u.after(u.last(), format("bold", "true"));
    u.after(u.last(), str("wörld"));
    u.after(u.last(), embed("{\"image\":\"x.png\"}"));
    u.after(u.last(), format("bold", "null"));
    u.after(u.last(), str("😀"));
    return u.delete(0, 1).update();
  }

  /** Root "m": one entry per kind of value. */
  static byte[] mapUpdate() {
    U u = new U();
    u.root("m", "s", any(aStr("q\"\\\n\u0001\u001b/\u2028é😀")));
    u.root("m", "i", any(aInt(-42)));
    u.root("m", "f", any(aF64(0.1)));
    u.root("m", "e", any(aF64(1e21)));
    u.root("m", "small", any(aF64(1.5e-7)));
    u.root("m", "nan", any(aF64(Double.NaN)));
    u.root("m", "inf", any(aF64(Double.NEGATIVE_INFINITY)));
    u.root("m", "negzero", any(aF64(-0.0)));
    u.root("m", "f32", any(aF32(0.1f)));
    u.root("m", "big", any(aBig(Long.MIN_VALUE)));
    u.root("m", "t", any(A_TRUE));
    u.root("m", "no", any(A_FALSE));
    u.root("m", "nul", any(A_NULL));
    u.root("m", "u", any(A_UNDEF));
    u.root("m", "bin", any(aBytes(1, 255)));
    u.root("m", "nobin", any(aBytes()));
    u.root("m", "obj", any(aObj("b", aInt(1), "10", aInt(2), "2", aInt(3), "__proto__", aObj("x", aInt(1)), "u", A_UNDEF, "b", aInt(4))));
    u.root("m", "arr", any(aArr(A_UNDEF, A_NULL, aArr(aArr(aBig(5))), aBytes(9))));
    u.root("m", "10", any(aStr("ten")));
    u.root("m", "json", json("{\"a\":[1,null],\"1\":\"x\"}"));
    u.root("m", "jsonundef", json("undefined"));
    u.root("m", "sub", subdoc("guid-1"));
    u.root("m", "binc", binary(7));
    long gone = u.root("m", "gone", any(aInt(1)));
    long old = u.root("m", "over", any(aInt(1)));
    u.after(old, any(aInt(2))); // overwrites "over"
    u.root("m", "__proto__", any(aObj("p", aInt(1))));
    u.root("m", "k\u001b", any(aInt(0)));
    u.root("m", "embed", embed("{\"x\":1}"));
    return u.delete(gone, 1).update();
  }

  static final String MAP_JSON = "{\"10\":\"ten\",\"s\":\"q\\\"\\\\\\n\\u0001\\u001b/\u2028é😀\",\"i\":-42,\"f\":0.1,\"e\":1e+21,"
      + "\"small\":1.5e-7,\"nan\":null,\"inf\":null,\"negzero\":0,\"f32\":0.10000000149011612,\"big\":\"-9223372036854775808\","
      + "\"t\":true,\"no\":false,\"nul\":null,\"bin\":{\"0\":1,\"1\":255},\"nobin\":{},\"obj\":{\"2\":3,\"10\":2,\"b\":4},"
      + "\"arr\":[null,null,[[\"5\"]],{\"0\":9}],\"json\":{\"1\":\"x\",\"a\":[1,null]},\"sub\":{},\"binc\":{\"0\":7},"
      + "\"over\":2,\"k\\u001b\":0,\"embed\":{\"x\":1}}";

  /** Root "n": map entries holding each kind of nested type. */
  static byte[] nestedUpdate() {
    U u = new U();
    long text = u.root("n", "text", type(YType.TEXT));
    u.in(text, null, str("hi"));
    u.after(u.last(), format("bold", "true"));
    u.after(u.last(), str("!"));
    long map = u.root("n", "map", type(YType.MAP));
    u.in(map, "k", any(aInt(1)));
    u.in(map, "10", type(YType.ARRAY));
    long arr = u.root("n", "arr", type(YType.ARRAY));
    u.in(arr, null, any(aInt(1), aStr("x")));
    long el = u.root("n", "el", element("DIV"));
    u.in(el, "id", any(aStr("x")));
    long xt = u.in(el, null, type(YType.XML_TEXT));
    u.in(xt, null, str("t"));
    long xt2 = u.root("n", "xt", type(YType.XML_TEXT));
    u.in(xt2, null, format("i", "true"));
    u.after(u.last(), str("plain"));
    u.root("n", "frag", type(YType.XML_FRAGMENT));
    long hook = u.root("n", "hook", hook("h"));
    u.in(hook, "q", any(A_TRUE));
    return u.update();
  }

  static final String NESTED_JSON = "{\"text\":\"hi!\",\"map\":{\"10\":[],\"k\":1},\"arr\":[1,\"x\"],"
      + "\"el\":\"<div id=\\\"x\\\">t</div>\",\"xt\":\"<i>plain</i>\",\"frag\":\"\",\"hook\":{\"q\":true}}";

  /** Root "a": a list of every kind of content. */
  static byte[] arrayUpdate() {
    U u = new U();
    u.root("a", null, any(aInt(1), A_UNDEF, aStr("s")));
    u.after(u.last(), str("a😀"));
    u.after(u.last(), embed("{\"image\":\"i\"}"));
    u.after(u.last(), format("bold", "true")); // not countable: no element
    u.after(u.last(), binary(1, 2));
    u.after(u.last(), json("undefined", "[1]"));
    u.after(u.last(), subdoc("guid-2"));
    long m = u.after(u.last(), type(YType.MAP));
    u.in(m, "k", any(aF64(2.5)));
    long gone = u.after(m, any(aInt(99)));
    return u.delete(gone, 1).update();
  }

  static final String ARRAY_JSON = "[1,null,\"s\",\"a\",\"\\ud83d\",\"\\ude00\",{\"image\":\"i\"},{\"0\":1,\"1\":2},null,[1],{},{\"k\":2.5}]";

  /** Root "x": an XML fragment with an element (attributes of every kind, children) and a formatted XmlText. */
  static byte[] xmlUpdate() {
    U u = new U();
    long p = u.root("x", null, element("P"));
    u.in(p, "b", any(aArr(aInt(1), aArr(aInt(2), A_NULL), A_UNDEF, aObj("a", aInt(1)))));
    u.in(p, "a", any(aBytes(1, 2)));
    u.in(p, "c", any(A_NULL));
    u.in(p, "d", any(aF64(-0.0)));
    u.in(p, "e", any(aBig(5)));
    u.in(p, "f", any(A_UNDEF));
    u.in(p, "Z", any(aF64(Double.NaN)));
    u.in(p, "__proto__", any(aStr("ignored")));
    long gt = u.in(p, "g", type(YType.TEXT));
    u.in(gt, null, str("gt"));
    u.in(p, "h", type(YType.MAP));
    long span = u.in(p, null, element("span"));
    u.after(span, hook("hk"));
    u.after(u.last(), type(YType.MAP));
    u.after(u.last(), any(aStr("s"), aF64(1.5), aArr(aInt(1), A_NULL, aInt(2))));
    long t = u.after(u.last(), type(YType.XML_TEXT));
    u.in(t, null, format("bold", "true"));
    u.after(u.last(), format("color", "\"#f0\""));
    u.after(u.last(), str("x"));
    u.after(u.last(), format("link", "{\"href\":\"u\",\"10\":[1,null]}"));
    u.after(u.last(), str("y"));
    u.after(u.last(), embed("{\"image\":\"i\"}"));
    u.after(u.last(), format("bold", "null"));
    u.after(u.last(), str("z"));
    u.after(u.last(), format("color", "null"));
    u.after(u.last(), format("link", "null"));
    u.after(u.last(), str("w"));
    u.after(u.last(), embed("[1,[2,null],\"q\"]"));
    long t2 = u.root("x", null, type(YType.XML_TEXT)); // before the element: inserted at the start
    u.in(t2, null, str("first<&>"));
    return u.update();
  }

  static final String XML = "first<&>"
      + "<p Z=\"NaN\" a=\"1,2\" b=\"1,2,,,[object Object]\" c=\"null\" d=\"0\" e=\"5\" f=\"undefined\" g=\"gt\" h=\"[object Object]\">"
      + "<span></span>[object Object][object Object]s1.51,,2"
      + "<bold><color 0=\"#\" 1=\"f\" 2=\"0\">x</color></bold>"
      + "<bold><color 0=\"#\" 1=\"f\" 2=\"0\"><link 10=\"1,\" href=\"u\">y</link></color></bold>"
      + "<bold><color 0=\"#\" 1=\"f\" 2=\"0\"><link 10=\"1,\" href=\"u\">[object Object]</link></color></bold>"
      + "<color 0=\"#\" 1=\"f\" 2=\"0\"><link 10=\"1,\" href=\"u\">z</link></color>"
      + "w1,2,,q"
      + "</p>";

  // ---------------------------------------------------------------- tests

  @Test
  void textIsTheVisibleStringWithoutEmbedsAndFormats() {
    YDoc doc = new YDoc();
    doc.apply(textUpdate());
    assertEquals("ello wörld😀", DocJson.text(doc, "t"));
    assertEquals("\"ello wörld😀\"", DocJson.json(doc, Kind.TEXT, "t"));
    // the same root read with the other kinds, as yjs reads it
    assertEquals("[\"e\",\"l\",\"l\",\"o\",\" \",\"w\",\"ö\",\"r\",\"l\",\"d\",{\"image\":\"x.png\"},\"\\ud83d\",\"\\ude00\"]",
        DocJson.arrayJson(doc, "t"));
    assertEquals("{}", DocJson.mapJson(doc, "t"));
    assertEquals("ello wörld[object Object]😀", DocJson.xml(doc, "t"));
  }

  @Test
  void mapValuesRenderAsJsonStringifyWritesThem() {
    YDoc doc = new YDoc();
    doc.apply(mapUpdate());
    assertEquals(MAP_JSON, DocJson.mapJson(doc, "m"));
    assertEquals("", DocJson.text(doc, "m"));
    assertEquals("[]", DocJson.arrayJson(doc, "m"));
  }

  @Test
  void nestedTypesRenderWithTheirOwnToJson() {
    YDoc doc = new YDoc();
    doc.apply(nestedUpdate());
    assertEquals(NESTED_JSON, DocJson.mapJson(doc, "n"));
  }

  @Test
  void arrayElementsAreEveryCountableValue() {
    YDoc doc = new YDoc();
    doc.apply(arrayUpdate());
    assertEquals(ARRAY_JSON, DocJson.arrayJson(doc, "a"));
    assertEquals("a😀", DocJson.text(doc, "a"));
  }

  @Test
  void xmlIsYjsToString() {
    YDoc doc = new YDoc();
    doc.apply(xmlUpdate());
    assertEquals(XML, DocJson.xml(doc, "x"));
    assertEquals(jsonString(XML), DocJson.json(doc, Kind.XML, "x"));
  }

  @Test
  void nullAndUndefinedChildrenOfAnXmlTypeRenderAsNothing() {
    U u = new U();
    u.root("x", null, any(aStr("a"), A_NULL, A_UNDEF, aStr("b")));
    YDoc doc = u.doc();
    assertEquals("ab", DocJson.xml(doc, "x")); // yjs throws TypeError here
    assertEquals("[\"a\",null,null,\"b\"]", DocJson.arrayJson(doc, "x"));
  }

  @Test
  void missingRootsAreTheEmptyTypesYjsWouldCreate() {
    YDoc doc = new YDoc();
    assertEquals("\"\"", DocJson.json(doc, Kind.TEXT, "none"));
    assertEquals("{}", DocJson.mapJson(doc, "none"));
    assertEquals("[]", DocJson.arrayJson(doc, "none"));
    assertEquals("\"\"", DocJson.json(doc, Kind.XML, "none"));
    assertEquals("", DocJson.text(doc, "none"));
    assertEquals("", DocJson.xml(doc, "none"));
  }

  @Test
  void deletedContentIsGoneWithAndWithoutGc() {
    for (boolean gc : new boolean[] {true, false}) {
      U u = new U();
      long a = u.root("m", "a", any(aInt(1)));
      u.root("m", "b", type(YType.ARRAY));
      u.in(u.last(), null, any(aInt(1), aInt(2), aInt(3)));
      long list = u.last();
      YDoc doc = new YDoc(new YDoc.Options(gc, 1 << 20));
      doc.apply(u.delete(a, 1).delete(list - 1, 1).update());
      assertEquals("{\"b\":[1,3]}", DocJson.mapJson(doc, "m"), "gc=" + gc);
    }
  }

  @Test
  void renderGroupsNamesByKindInJavaScriptPropertyOrder() {
    YDoc doc = new YDoc();
    doc.apply(textUpdate());
    U other = new U(8);
    other.root("10", null, str("ten"));
    other.root("m", "k", any(A_TRUE));
    doc.apply(other.update());
    Map<String, List<String>> request = new LinkedHashMap<>();
    request.put("xml", List.of("t"));
    request.put("map", List.of());
    request.put("text", List.of("t", "10", "t", "none", "5"));
    assertEquals("{\"text\":{\"5\":\"\",\"10\":\"ten\",\"t\":\"ello wörld😀\",\"none\":\"\"},\"map\":{},"
        + "\"xml\":{\"t\":\"ello wörld[object Object]😀\"}}", DocJson.render(doc, request));
    assertEquals("{}", DocJson.render(doc, Map.of()));
  }

  @Test
  void renderRejectsUnknownKindsAndImpossibleNames() {
    YDoc doc = new YDoc();
    assertThrows(IllegalArgumentException.class, () -> DocJson.render(doc, Map.of("Text", List.of("a"))));
    assertThrows(IllegalArgumentException.class, () -> DocJson.render(doc, Map.of("text", List.of("\ud800"))));
    List<String> withNull = new ArrayList<>();
    withNull.add(null);
    assertThrows(IllegalArgumentException.class, () -> DocJson.render(doc, Map.of("map", withNull)));
    assertThrows(IllegalArgumentException.class, () -> DocJson.json(doc, Kind.TEXT, "\udc00x"));
    assertEquals(Kind.ARRAY, Kind.fromParameter("array"));
  }

  @Test
  void deepNestingNeedsNoStack() throws InterruptedException {
    int depth = 50_000;
    // an Any array nested 50,000 deep (far beyond a recursive renderer), as a map value and as an XML attribute
    ByteArrayOutputStream nested = new ByteArrayOutputStream();
    for (int i = 0; i < depth; i++) nested.writeBytes(b(117, 1));
    nested.writeBytes(aInt(5));
    U u = new U();
    u.root("m", "deep", any(nested.toByteArray()));
    long el = u.root("x", null, element("e"));
    u.in(el, "a", any(nested.toByteArray()));
    // maps nested 10,000 deep, and XML elements nested 10,000 deep
    int types = 10_000;
    long parent = u.root("m", "maps", type(YType.MAP));
    for (int i = 1; i < types; i++) parent = u.in(parent, "k", type(YType.MAP));
    parent = u.root("y", null, element("e"));
    for (int i = 1; i < types; i++) parent = u.in(parent, null, element("e"));
    YDoc doc = u.doc();

    // rendered on a thread with a small stack, where a recursive renderer would overflow
    String[] out = new String[3];
    Throwable[] failure = new Throwable[1];
    Thread t = new Thread(null, () -> {
      try {
        out[0] = DocJson.mapJson(doc, "m");
        out[1] = DocJson.xml(doc, "x");
        out[2] = DocJson.xml(doc, "y");
      } catch (Throwable e) {
        failure[0] = e;
      }
    }, "docjson-small-stack", 256 * 1024);
    t.start();
    t.join();
    if (failure[0] != null) throw new AssertionError("rendering failed", failure[0]);
    String deep = "[".repeat(depth) + "5" + "]".repeat(depth);
    String maps = "{\"k\":".repeat(types - 1) + "{}" + "}".repeat(types - 1);
    assertEquals("{\"deep\":" + deep + ",\"maps\":" + maps + "}", out[0]);
    assertEquals("<e a=\"5\"></e>", out[1]);
    assertEquals("<e>".repeat(types) + "</e>".repeat(types), out[2]);
  }

  private static String jsonString(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') sb.append('\\');
      sb.append(c);
    }
    return sb.append('"').toString();
  }
}
