package dev.ripple.collab.yjs;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders root types of a {@link YDoc} as JSON, exactly as yjs shows them to a client that reads
 * the root with a given type: {@code doc.getText(name).toString()}, {@code doc.getMap(name).toJSON()},
 * {@code doc.getArray(name).toJSON()} or {@code doc.getXmlFragment(name).toString()}, passed through
 * {@code JSON.stringify}. A server cannot know the type of an untyped root, so the caller names it
 * ({@link Kind}); reading a root as another kind than its clients use gives what yjs would give for
 * that reading (a text read as an array is its UTF-16 code units, a map read as a text is empty).
 *
 * <p>The output is the text {@code JSON.stringify} writes, byte for byte (the differential test
 * {@code DocJsonDifferentialTest} compares it with the real yjs): no whitespace, object keys in
 * JavaScript's property order (array-index keys such as {@code "10"} first in ascending order, then
 * the others in insertion order), numbers as JavaScript writes them ({@code 1e+21}, {@code 0.1},
 * {@code -0} as {@code 0}), control characters and lone surrogates escaped as <code>&#92;u00xx</code>
 * (lower-case hex), everything else unescaped. Values, as yjs's {@code toJSON} leaves them and
 * {@code JSON.stringify} then writes them:
 * <ul>
 *   <li>Any values are decoded from their stored bytes (nothing is re-encoded in the document);
 *       JSON content, embeds and format values are yjs's {@code JSON.parse} of their text.</li>
 *   <li>{@code undefined} (an Any undefined, JSON content {@code undefined}): a map entry or object
 *       property holding it is left out; in an array it is {@code null}.</li>
 *   <li>{@code NaN}, {@code Infinity} and {@code -Infinity}: {@code null}.</li>
 *   <li>Binary ({@code Uint8Array}, as Any or binary content): an object of its bytes by index,
 *       {@code {"0":1,"1":255}}; an empty array is {@code {}}. That is what {@code JSON.stringify}
 *       writes for a typed array.</li>
 *   <li>bigint: its decimal digits as a JSON string, {@code "-9223372036854775808"}. This is the
 *       one deliberate departure: {@code JSON.stringify} throws {@code TypeError} on a bigint, and a
 *       JSON number would lose precision in a JavaScript reader.</li>
 *   <li>Subdocument: {@code {}}, its {@code toJSON()} in a freshly received document (no root
 *       of a subdocument is ever loaded on the server).</li>
 *   <li>Nested types with their own {@code toJSON}: Y.Text as its string (embeds and formats left
 *       out), Y.Map and Y.XmlHook as objects, Y.Array as an array, Y.XmlElement,
 *       Y.XmlFragment and Y.XmlText as their XML {@code toString()}.</li>
 *   <li>A map's entry under {@code "__proto__"} is left out, as in yjs, where assigning it to the
 *       result object sets the object's prototype instead of adding a property (the same holds
 *       for Any object keys, which lib0 decodes by assignment, and for XML attributes and text
 *       format keys, where the inherited properties such a prototype would add to a
 *       {@code for...in} are not reproduced).</li>
 * </ul>
 * XML is rendered as yjs's {@code toString()}: elements as {@code <name a="v">children</name>} with
 * the node name lower-cased and attributes sorted by name (UTF-16 order), each value as JavaScript's
 * {@code String(value)} ({@code "1,2"} for an array or a binary, {@code [object Object]} for an
 * object or a Y.Map); Y.XmlText as its delta, each run wrapped in one tag per format attribute
 * ({@code <bold>}, {@code <link href="...">}; sorted by name, the attributes of a tag being the
 * {@code for...in} keys of the format value, so a string value {@code "#f00"} yields
 * {@code <color 0="#" 1="f" 2="0" 3="0">}), embeds as {@code String(embed)}; Y.Map, Y.Array and
 * Y.XmlHook children as {@code [object Object]}. A {@code null} or {@code undefined} child of an
 * XML type (only a hand-made update puts one there) renders as nothing, where yjs's
 * {@code toString()} throws {@code TypeError}.
 *
 * <p>A root that does not exist renders as yjs renders the empty type that {@code doc.getText(name)}
 * etc. would create on an untouched document: {@code ""}, {@code {}}, {@code []}, {@code ""}. A
 * client cannot tell a missing root from an empty one, and neither can this API.
 *
 * <p>Nothing here recurses: types and Any values nested deeper than the call stack render like any
 * others. Not thread-safe, like {@link YDoc}: render where the document is owned.
 */
public final class DocJson {
  private DocJson() {}

  /** How a root is read: the type a client would access it with, and its query parameter name. */
  public enum Kind {
    /** {@code doc.getText(name).toString()}, a JSON string. */
    TEXT("text", YType.TEXT),
    /** {@code doc.getMap(name).toJSON()}, a JSON object. */
    MAP("map", YType.MAP),
    /** {@code doc.getArray(name).toJSON()}, a JSON array. */
    ARRAY("array", YType.ARRAY),
    /** {@code doc.getXmlFragment(name).toString()}, a JSON string. */
    XML("xml", YType.XML_FRAGMENT);

    private final String parameter;
    private final int typeRef;

    Kind(String parameter, int typeRef) {
      this.parameter = parameter;
      this.typeRef = typeRef;
    }

    /** The name of this kind in a request: {@code text}, {@code map}, {@code array}, {@code xml}. */
    public String parameter() {
      return parameter;
    }

    /** The kind called {@code parameter}; throws {@link IllegalArgumentException} for any other name. */
    public static Kind fromParameter(String parameter) {
      for (Kind k : values()) {
        if (k.parameter.equals(parameter)) return k;
      }
      throw new IllegalArgumentException("unknown kind '" + parameter + "' (expected text, map, array or xml)");
    }
  }

  // ---------------------------------------------------------------- API

  /**
   * Renders the requested roots as one JSON object: for each kind present in {@code request} (keys
   * {@code text}, {@code map}, {@code array}, {@code xml}; in that order in the output), an object
   * from root name to that root rendered as the kind, e.g.
   * {@code {"text":{"title":"Hello"},"map":{"meta":{"n":1}}}}. A kind with no names gives
   * {@code {}}; a name repeated within a kind appears once; names are in JavaScript's property
   * order (array-index names first).
   *
   * @throws IllegalArgumentException for an unknown kind, or a null name or one holding a lone
   *     surrogate (no root can have such a name: names are UTF-8 in updates)
   */
  public static String render(YDoc doc, Map<String, ? extends Collection<String>> request) {
    for (Map.Entry<String, ? extends Collection<String>> e : request.entrySet()) {
      Kind.fromParameter(e.getKey());
      if (e.getValue() == null) throw new IllegalArgumentException("no names for kind " + e.getKey());
      for (String name : e.getValue()) checkName(name);
    }
    StringWriter out = new StringWriter();
    try (JsonGenerator g = generator(out)) {
      g.writeStartObject();
      for (Kind kind : Kind.values()) {
        Collection<String> names = request.get(kind.parameter);
        if (names == null) continue;
        g.writeFieldName(kind.parameter);
        g.writeStartObject();
        for (String name : jsPropertyOrder(new ArrayList<>(new LinkedHashSet<>(names)))) {
          g.writeFieldName(name);
          new JsonWriter(g).write(rootView(doc, kind, name));
        }
        g.writeEndObject();
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  /** One root rendered as {@code kind}: a JSON string, object or array. */
  public static String json(YDoc doc, Kind kind, String name) {
    checkName(name);
    StringWriter out = new StringWriter();
    try (JsonGenerator g = generator(out)) {
      new JsonWriter(g).write(rootView(doc, kind, name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  /** {@code doc.getText(name).toString()} as a Java string (not JSON): the text without embeds and formats. */
  public static String text(YDoc doc, String name) {
    checkName(name);
    YType root = doc.root(name);
    return root == null ? "" : plainText(root);
  }

  /** {@code doc.getXmlFragment(name).toString()} as a Java string (not JSON). */
  public static String xml(YDoc doc, String name) {
    checkName(name);
    YType root = doc.root(name);
    return root == null ? "" : Stringifier.of(new TypeView(root, YType.XML_FRAGMENT));
  }

  /** {@code JSON.stringify(doc.getMap(name).toJSON())}. */
  public static String mapJson(YDoc doc, String name) {
    return json(doc, Kind.MAP, name);
  }

  /** {@code JSON.stringify(doc.getArray(name).toJSON())}. */
  public static String arrayJson(YDoc doc, String name) {
    return json(doc, Kind.ARRAY, name);
  }

  private static void checkName(String name) {
    if (name == null) throw new IllegalArgumentException("null root name");
    if (hasLoneSurrogate(name)) throw new IllegalArgumentException("root name with a lone surrogate");
  }

  /** The root as a value of its kind; a missing root is an empty type of that kind. */
  private static Object rootView(YDoc doc, Kind kind, String name) {
    YType root = doc.root(name);
    if (root != null) return new TypeView(root, kind.typeRef);
    return switch (kind) {
      case TEXT, XML -> "";
      case MAP -> new LinkedHashMap<String, Object>();
      case ARRAY -> new ArrayList<>();
    };
  }

  // ---------------------------------------------------------------- JavaScript values
  //
  // Values are modelled as yjs hands them to JSON.stringify: null, UNDEFINED, Boolean, Double
  // (number), String, BigInteger (bigint), byte[] (Uint8Array), List (array), Map (plain object,
  // insertion-ordered), JsonValue (what JSON.parse gives for a stored JSON text), SubDoc (Y.Doc),
  // TypeView (a shared type).

  /** JavaScript's {@code undefined}. */
  private static final Object UNDEFINED = new Object() {
    @Override public String toString() {
      return "undefined";
    }
  };

  /** JavaScript's {@code null} where Java's null cannot go (an ArrayDeque). */
  private static final Object NULL = new Object();

  /** A stored JSON text, always {@code JSON.stringify(JSON.parse(text))}: written as is, parsed when converted to a string. */
  private record JsonValue(String text) {}

  /** A subdocument. */
  private record SubDoc(String guid) {}

  /** A shared type read as type {@code ref} (its own type for nested types, the requested kind for a root). */
  private record TypeView(YType type, int ref) {}

  /** The values yjs's {@code content.getContent()} gives for a content, appended to {@code out}. */
  private static void addValues(Content c, List<Object> out) {
    if (c instanceof Content.Any a) {
      for (byte[] v : a.values) out.add(decodeAny(v));
    } else if (c instanceof Content.Json j) {
      for (String s : j.values) out.add(jsonContentValue(s));
    } else if (c instanceof Content.Str s) {
      CharSequence t = s.text; // str.split(''): one string per UTF-16 code unit
      for (int i = 0; i < t.length(); i++) out.add(String.valueOf(t.charAt(i)));
    } else if (c instanceof Content.Embed e) {
      out.add(new JsonValue(e.json));
    } else if (c instanceof Content.Binary b) {
      out.add(b.bytes);
    } else if (c instanceof Content.Doc d) {
      out.add(new SubDoc(d.guid));
    } else if (c instanceof Content.Type t) {
      out.add(new TypeView(t.type, t.type.typeRef));
    }
    // Deleted and Format content hold no values
  }

  /** {@code item.content.getContent()[item.length - 1]}: the value of a map entry or XML attribute. */
  private static Object lastValue(Item item) {
    Content c = item.content;
    if (c instanceof Content.Any a) return decodeAny(a.values.get(a.values.size() - 1));
    if (c instanceof Content.Json j) return jsonContentValue(j.values.get(j.values.size() - 1));
    if (c instanceof Content.Str s) return String.valueOf(s.text.charAt(s.text.length() - 1));
    if (c instanceof Content.Embed || c instanceof Content.Binary || c instanceof Content.Doc || c instanceof Content.Type) {
      List<Object> one = new ArrayList<>(1);
      addValues(c, one);
      return one.get(0);
    }
    return UNDEFINED; // a format item under a key: getContent() is empty
  }

  private static Object jsonContentValue(String text) {
    return text.equals("undefined") ? UNDEFINED : new JsonValue(text);
  }

  /** The values of a type's list (countable, not deleted items), as yjs's {@code toArray()}. */
  private static List<Object> listValues(YType type) {
    List<Object> out = new ArrayList<>();
    for (Item i = type.start; i != null; i = i.right) {
      if (!i.deleted() && i.content.countable()) addValues(i.content, out);
    }
    return out;
  }

  /** Y.Text's {@code toString()}: the visible strings, nothing else. */
  private static String plainText(YType type) {
    StringBuilder sb = new StringBuilder();
    for (Item i = type.start; i != null; i = i.right) {
      if (!i.deleted() && i.content instanceof Content.Str s) sb.append(s.text);
    }
    return sb.toString();
  }

  /** The live entries of a type's map, as yjs's {@code toJSON()}/{@code getAttributes()} collects them. */
  private static List<Map.Entry<String, Object>> mapEntries(YType type) {
    List<Map.Entry<String, Object>> out = new ArrayList<>();
    if (type.map == null) return out;
    for (Map.Entry<String, Item> e : type.map.entrySet()) {
      if (e.getValue().deleted() || e.getKey().equals("__proto__")) continue;
      out.add(Map.entry(e.getKey(), new Lazy(e.getValue())));
    }
    return out;
  }

  /** A map entry's value, decoded when it is reached (a value is needed once, in key order). */
  private record Lazy(Item item) {
    Object get() {
      return lastValue(item);
    }
  }

  private static Object resolve(Object v) {
    return v instanceof Lazy l ? l.get() : v;
  }

  /**
   * Decodes one lib0 Any value (already validated when its update was read), without recursion:
   * as lib0's {@code readAny}, including that an object key {@code __proto__} is no own property.
   */
  static Object decodeAny(byte[] bytes) {
    Lib0Decoder d = new Lib0Decoder(bytes);
    ArrayDeque<AnyFrame> open = new ArrayDeque<>();
    Object result = null;
    while (true) {
      AnyFrame top = open.peek();
      String key = top != null && top.object != null ? d.readVarString() : null;
      int tag = d.readUint8();
      Object v;
      AnyFrame child = null;
      switch (tag) {
        case 127 -> v = UNDEFINED;
        case 126 -> v = null;
        case 125 -> v = (double) d.readVarInt();
        case 124 -> {
          v = (double) Float.intBitsToFloat((int) bigEndian(d, 4));
        }
        case 123 -> v = Double.longBitsToDouble(bigEndian(d, 8));
        case 122 -> v = BigInteger.valueOf(bigEndian(d, 8));
        case 121 -> v = Boolean.FALSE;
        case 120 -> v = Boolean.TRUE;
        case 119 -> v = d.readVarString();
        case 116 -> v = d.readVarBytes();
        case 118 -> {
          int n = d.readLength("object size");
          LinkedHashMap<String, Object> obj = new LinkedHashMap<>();
          v = obj;
          if (n > 0) child = new AnyFrame(null, obj, n);
        }
        case 117 -> {
          int n = d.readLength("array size");
          List<Object> arr = new ArrayList<>(Math.min(n, 1024));
          v = arr;
          if (n > 0) child = new AnyFrame(arr, null, n);
        }
        default -> throw new IllegalStateException("unknown Any tag " + tag + " in a stored value");
      }
      if (top == null) {
        result = v;
      } else {
        if (top.object == null) {
          top.array.add(v);
        } else if (!key.equals("__proto__")) {
          top.object.put(key, v); // a repeated key keeps its first position and takes the last value, as in JavaScript
        }
        top.remaining--;
      }
      if (child != null) open.push(child);
      while (!open.isEmpty() && open.peek().remaining == 0) open.pop();
      if (open.isEmpty()) return result;
    }
  }

  private static final class AnyFrame {
    final List<Object> array;
    final Map<String, Object> object;
    int remaining;

    AnyFrame(List<Object> array, Map<String, Object> object, int remaining) {
      this.array = array;
      this.object = object;
      this.remaining = remaining;
    }
  }

  private static long bigEndian(Lib0Decoder d, int n) {
    long v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | d.readUint8();
    return v;
  }

  /** Keys in JavaScript's property order: array indices ascending, then the rest in insertion order. */
  private static List<String> jsPropertyOrder(List<String> keys) {
    List<String> indices = new ArrayList<>();
    List<String> others = new ArrayList<>();
    for (String k : keys) (JsonText.isArrayIndex(k) ? indices : others).add(k);
    if (indices.isEmpty()) return keys;
    indices.sort((a, b) -> Long.compare(Long.parseLong(a), Long.parseLong(b)));
    indices.addAll(others);
    return indices;
  }

  private static <V> List<Map.Entry<String, V>> jsEntryOrder(List<Map.Entry<String, V>> entries) {
    List<Map.Entry<String, V>> indices = new ArrayList<>();
    List<Map.Entry<String, V>> others = new ArrayList<>();
    for (Map.Entry<String, V> e : entries) (JsonText.isArrayIndex(e.getKey()) ? indices : others).add(e);
    if (indices.isEmpty()) return entries;
    indices.sort((a, b) -> Long.compare(Long.parseLong(a.getKey()), Long.parseLong(b.getKey())));
    indices.addAll(others);
    return indices;
  }

  /** Number::toString for a finite number (also what JSON.stringify writes for it). */
  private static String numberText(double d) {
    if (d == Math.rint(d) && Math.abs(d) < 1e15) return Long.toString((long) d); // -0 too: "0"
    return JsonText.numberToString(d);
  }

  /** JavaScript's {@code String(number)}. */
  private static String numberString(double d) {
    if (Double.isNaN(d)) return "NaN";
    if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
    return numberText(d);
  }

  // ---------------------------------------------------------------- JSON.stringify

  private static final JsonFactory FACTORY = new JsonFactory();
  private static final CharacterEscapes JS_ESCAPES = new JsEscapes();

  private static JsonGenerator generator(StringWriter out) throws IOException {
    JsonGenerator g = FACTORY.createGenerator(out);
    g.setCharacterEscapes(JS_ESCAPES);
    return g;
  }

  /** JSON.stringify's escapes: as Jackson's, but <code>&#92;u00xx</code> in lower-case hex. */
  private static final class JsEscapes extends CharacterEscapes {
    private final int[] ascii = CharacterEscapes.standardAsciiEscapesForJSON();
    private final SerializableString[] sequences = new SerializableString[0x20];

    JsEscapes() {
      for (int c = 0; c < 0x20; c++) {
        if (ascii[c] == ESCAPE_STANDARD) {
          ascii[c] = ESCAPE_CUSTOM;
          sequences[c] = new SerializedString(String.format("\\u%04x", c));
        }
      }
    }

    @Override public int[] getEscapeCodesForAscii() {
      return ascii;
    }

    @Override public SerializableString getEscapeSequence(int ch) {
      return ch < 0x20 ? sequences[ch] : null;
    }
  }

  /** Writes a string as JSON.stringify does (a lone surrogate as <code>&#92;udxxx</code>, which Jackson would write raw). */
  private static void writeString(JsonGenerator g, String s) throws IOException {
    if (!hasLoneSurrogate(s)) {
      g.writeString(s);
      return;
    }
    StringBuilder sb = new StringBuilder(s.length() + 16).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (isLoneSurrogate(s, i)) {
        sb.append(String.format("\\u%04x", (int) c));
      } else if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c < 0x20) {
        switch (c) {
          case '\b' -> sb.append("\\b");
          case '\t' -> sb.append("\\t");
          case '\n' -> sb.append("\\n");
          case '\f' -> sb.append("\\f");
          case '\r' -> sb.append("\\r");
          default -> sb.append(String.format("\\u%04x", (int) c));
        }
      } else {
        sb.append(c);
      }
    }
    g.writeRawValue(sb.append('"').toString());
  }

  private static boolean hasLoneSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (isLoneSurrogate(s, i)) return true;
    }
    return false;
  }

  private static boolean isLoneSurrogate(String s, int i) {
    char c = s.charAt(i);
    if (Character.isHighSurrogate(c)) return i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1));
    if (Character.isLowSurrogate(c)) return i == 0 || !Character.isHighSurrogate(s.charAt(i - 1));
    return false;
  }

  /** JSON.stringify of a value, with an explicit stack instead of recursion. */
  private static final class JsonWriter {
    private final JsonGenerator g;
    private final ArrayDeque<Frame> open = new ArrayDeque<>();

    private record Frame(Iterator<?> it, boolean object) {}

    JsonWriter(JsonGenerator g) {
      this.g = g;
    }

    void write(Object value) throws IOException {
      start(value);
      while (!open.isEmpty()) {
        Frame f = open.peek();
        if (!f.it.hasNext()) {
          open.pop();
          if (f.object) g.writeEndObject();
          else g.writeEndArray();
        } else if (f.object) {
          @SuppressWarnings("unchecked")
          Map.Entry<String, Object> e = (Map.Entry<String, Object>) f.it.next();
          Object v = resolve(e.getValue());
          if (v == UNDEFINED) continue; // JSON.stringify leaves out properties holding undefined
          g.writeFieldName(e.getKey());
          start(v);
        } else {
          start(f.it.next());
        }
      }
    }

    /** Writes a scalar, or opens an object or array and pushes the frame that writes its contents. */
    private void start(Object v) throws IOException {
      if (v == null || v == UNDEFINED) {
        g.writeNull(); // undefined in an array is null
      } else if (v instanceof String s) {
        writeString(g, s);
      } else if (v instanceof Boolean b) {
        g.writeBoolean(b);
      } else if (v instanceof Double d) {
        if (Double.isFinite(d)) g.writeNumber(numberText(d));
        else g.writeNull();
      } else if (v instanceof BigInteger b) {
        g.writeString(b.toString());
      } else if (v instanceof byte[] bytes) {
        g.writeStartObject();
        for (int i = 0; i < bytes.length; i++) {
          g.writeFieldName(Integer.toString(i));
          g.writeNumber(bytes[i] & 0xFF);
        }
        g.writeEndObject();
      } else if (v instanceof JsonValue j) {
        g.writeRawValue(j.text);
      } else if (v instanceof SubDoc) {
        g.writeStartObject();
        g.writeEndObject();
      } else if (v instanceof List<?> list) {
        g.writeStartArray();
        open.push(new Frame(list.iterator(), false));
      } else if (v instanceof Map<?, ?> map) {
        @SuppressWarnings("unchecked")
        Map<String, Object> obj = (Map<String, Object>) map;
        g.writeStartObject();
        open.push(new Frame(jsEntryOrder(new ArrayList<>(obj.entrySet())).iterator(), true));
      } else if (v instanceof TypeView t) {
        switch (t.ref) {
          case YType.MAP, YType.XML_HOOK -> {
            g.writeStartObject();
            open.push(new Frame(jsEntryOrder(mapEntries(t.type)).iterator(), true));
          }
          case YType.ARRAY -> {
            g.writeStartArray();
            open.push(new Frame(listValues(t.type).iterator(), false));
          }
          case YType.TEXT -> writeString(g, plainText(t.type));
          default -> writeString(g, Stringifier.of(t)); // XML types: toJSON() is toString()
        }
      } else {
        throw new IllegalStateException("not a JavaScript value: " + v.getClass());
      }
    }
  }

  // ---------------------------------------------------------------- String(value) and XML

  /**
   * JavaScript's string conversion of a value ({@code String(v)}, a template literal) and yjs's
   * {@code toString()} of its types, with a stack of pending pieces instead of recursion: each
   * piece is appended (a String) or expanded into further pieces.
   */
  private static final class Stringifier {
    private final StringBuilder out = new StringBuilder();
    private final ArrayDeque<Object> todo = new ArrayDeque<>();

    static String of(Object value) {
      Stringifier s = new Stringifier();
      s.push(value);
      s.run();
      return s.out.toString();
    }

    private void push(Object v) {
      todo.push(v == null ? NULL : v);
    }

    /** Pushes pieces so that they come out in list order. */
    private void pushAll(List<Object> pieces) {
      for (int i = pieces.size() - 1; i >= 0; i--) push(pieces.get(i));
    }

    private void run() {
      while (!todo.isEmpty()) {
        Object v = todo.pop();
        if (v instanceof String s) {
          out.append(s);
        } else if (v == NULL) {
          out.append("null");
        } else if (v == UNDEFINED) {
          out.append("undefined");
        } else if (v instanceof Boolean || v instanceof BigInteger) {
          out.append(v);
        } else if (v instanceof Double d) {
          out.append(numberString(d));
        } else if (v instanceof byte[] bytes) {
          for (int i = 0; i < bytes.length; i++) {
            if (i > 0) out.append(',');
            out.append(bytes[i] & 0xFF);
          }
        } else if (v instanceof List<?> list) {
          // Array.prototype.join: null and undefined elements are empty
          List<Object> pieces = new ArrayList<>(2 * list.size());
          for (int i = 0; i < list.size(); i++) {
            if (i > 0) pieces.add(",");
            Object e = list.get(i);
            if (e != null && e != UNDEFINED) pieces.add(e);
          }
          pushAll(pieces);
        } else if (v instanceof JsonValue j) {
          push(JsonText.parse(j.text));
        } else if (v instanceof TypeView t) {
          expandType(t.type, t.ref);
        } else {
          out.append("[object Object]"); // plain objects, subdocuments
        }
      }
    }

    /** A type's {@code toString()}; types without one (map, array, hook) are {@code [object Object]}. */
    private void expandType(YType type, int ref) {
      switch (ref) {
        case YType.TEXT -> out.append(plainText(type));
        case YType.XML_FRAGMENT -> pushAll(children(type));
        case YType.XML_ELEMENT -> pushAll(element(type));
        case YType.XML_TEXT -> pushAll(xmlText(type));
        default -> out.append("[object Object]");
      }
    }

    /** A fragment's children, each by its {@code toString()} (joined with ''). */
    private static List<Object> children(YType type) {
      List<Object> pieces = listValues(type);
      pieces.removeIf(v -> v == null || v == UNDEFINED); // yjs throws calling toString on these
      return pieces;
    }

    /** YXmlElement.toString(): {@code <name a="v" b="w">children</name>}, attributes sorted by name. */
    private static List<Object> element(YType type) {
      String name = type.name.toLowerCase(Locale.ROOT);
      List<Map.Entry<String, Object>> attrs = mapEntries(type);
      attrs.sort(Map.Entry.comparingByKey());
      List<Object> pieces = new ArrayList<>();
      pieces.add("<" + name);
      for (Map.Entry<String, Object> a : attrs) {
        pieces.add(" " + a.getKey() + "=\"");
        pieces.add(resolve(a.getValue()));
        pieces.add("\"");
      }
      pieces.add(">");
      pieces.addAll(children(type));
      pieces.add("</" + name + ">");
      return pieces;
    }

    /**
     * YXmlText.toString(): its delta (runs split at every visible format item, embed and type),
     * each run inside one tag per format attribute.
     */
    private static List<Object> xmlText(YType type) {
      List<Object> pieces = new ArrayList<>();
      LinkedHashMap<String, Object> attributes = new LinkedHashMap<>();
      StringBuilder run = new StringBuilder();
      for (Item i = type.start; i != null; i = i.right) {
        if (i.deleted()) continue;
        Content c = i.content;
        if (c instanceof Content.Str s) {
          run.append(s.text);
        } else if (c instanceof Content.Type || c instanceof Content.Embed || c instanceof Content.Format) {
          if (run.length() > 0) {
            op(pieces, run.toString(), attributes);
            run.setLength(0);
          }
          if (c instanceof Content.Format f) {
            if (f.valueJson.equals("null")) attributes.remove(f.key);
            else attributes.put(f.key, JsonText.parse(f.valueJson));
          } else {
            List<Object> one = new ArrayList<>(1);
            addValues(c, one);
            op(pieces, one.get(0), attributes);
          }
        }
      }
      if (run.length() > 0) op(pieces, run.toString(), attributes);
      return pieces;
    }

    /** One delta op: {@code <node k="v">insert</node>} per attribute, tags and their keys sorted. */
    private static void op(List<Object> pieces, Object insert, Map<String, Object> attributes) {
      List<String> nodes = new ArrayList<>(attributes.keySet());
      nodes.remove("__proto__");
      nodes.sort(null);
      for (String node : nodes) {
        pieces.add("<" + node);
        List<Map.Entry<String, Object>> keys = forIn(attributes.get(node));
        keys.sort(Map.Entry.comparingByKey());
        for (Map.Entry<String, Object> k : keys) {
          pieces.add(" " + k.getKey() + "=\"");
          pieces.add(k.getValue());
          pieces.add("\"");
        }
        pieces.add(">");
      }
      pieces.add(insert);
      for (int n = nodes.size() - 1; n >= 0; n--) pieces.add("</" + nodes.get(n) + ">");
    }

    /** The keys and values a {@code for...in} visits on a JSON.parse result: string and array indices, object keys. */
    private static List<Map.Entry<String, Object>> forIn(Object v) {
      List<Map.Entry<String, Object>> out = new ArrayList<>();
      if (v instanceof String s) {
        for (int i = 0; i < s.length(); i++) out.add(Map.entry(Integer.toString(i), String.valueOf(s.charAt(i))));
      } else if (v instanceof List<?> list) {
        for (int i = 0; i < list.size(); i++) {
          Object e = list.get(i);
          out.add(Map.entry(Integer.toString(i), e == null ? NULL : e));
        }
      } else if (v instanceof Map<?, ?> map) {
        for (Map.Entry<?, ?> e : map.entrySet()) {
          out.add(Map.entry((String) e.getKey(), e.getValue() == null ? NULL : e.getValue()));
        }
      }
      return out;
    }
  }
}
