package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The content of an {@link Item}, one class per Yjs content ref (1..9). Values the server never
 * interprets (JSON strings, Any values, embeds) are kept in their encoded form and written back
 * verbatim, so what a client wrote is what other clients read.
 */
public abstract sealed class Content
    permits Content.Deleted, Content.Json, Content.Binary, Content.Str, Content.Embed,
        Content.Format, Content.Type, Content.Any, Content.Doc {

  public static final int DELETED = 1;
  public static final int JSON = 2;
  public static final int BINARY = 3;
  public static final int STRING = 4;
  public static final int EMBED = 5;
  public static final int FORMAT = 6;
  public static final int TYPE = 7;
  public static final int ANY = 8;
  public static final int DOC = 9;

  public abstract int ref();

  /** Length in clock units (UTF-16 code units for strings, elements for lists, else 1). */
  public abstract int length();

  /** Whether the content counts towards its parent's length (false for deleted and format). */
  public boolean countable() {
    return true;
  }

  /** Cuts this content at {@code offset}: this keeps [0, offset), the result holds the rest. */
  abstract Content splice(int offset);

  /** Appends {@code right} to this if the kind supports merging; returns whether it did. */
  boolean mergeWith(Content right) {
    return false;
  }

  /** Writes the content from {@code offset} on. */
  abstract void write(Lib0Encoder e, int offset);

  void integrate(Transaction t, Item item) {}


  static Content read(Lib0Decoder d, int ref) {
    switch (ref) {
      case DELETED -> {
        int len = d.readLength("deleted length");
        if (len == 0) throw d.error("deleted content of length 0");
        return new Deleted(len);
      }
      case JSON -> {
        int n = d.readCount("JSON content");
        if (n == 0) throw d.error("JSON content of length 0");
        List<String> values = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          String v = d.readVarString();
          values.add(v.equals("undefined") ? v : JsonText.canonical(v));
        }
        return new Json(values);
      }
      case BINARY -> {
        return new Binary(d.readVarBytes());
      }
      case STRING -> {
        String s = d.readVarString();
        if (s.isEmpty()) throw d.error("string content of length 0");
        return new Str(s);
      }
      case EMBED -> {
        return new Embed(JsonText.canonical(d.readVarString()));
      }
      case FORMAT -> {
        String key = d.readVarString();
        return new Format(key, JsonText.canonical(d.readVarString()));
      }
      case TYPE -> {
        long typeRef = d.readVarUint();
        if (typeRef > YType.XML_TEXT) throw d.error("unknown type ref " + typeRef);
        String name = (typeRef == YType.XML_ELEMENT || typeRef == YType.XML_HOOK) ? d.readVarString() : null;
        return new Type(new YType((int) typeRef, name));
      }
      case ANY -> {
        int n = d.readCount("Any content");
        if (n == 0) throw d.error("Any content of length 0");
        List<byte[]> values = new ArrayList<>(n);
        for (int i = 0; i < n; i++) values.add(d.readAnyRaw());
        return new Any(values);
      }
      case DOC -> {
        String guid = d.readVarString();
        return new Doc(guid, DocOptions.canonical(d));
      }
      default -> throw d.error("unknown content ref " + ref);
    }
  }

  /** Content of a deleted item: only its length survives garbage collection. */
  public static final class Deleted extends Content {
    int len;

    Deleted(int len) {
      this.len = len;
    }

    @Override public int ref() { return DELETED; }
    @Override public int length() { return len; }
    @Override public boolean countable() { return false; }

    @Override Content splice(int offset) {
      Deleted right = new Deleted(len - offset);
      len = offset;
      return right;
    }

    @Override boolean mergeWith(Content right) {
      len += ((Deleted) right).len;
      return true;
    }

    @Override void write(Lib0Encoder e, int offset) {
      e.writeVarUint(len - offset);
    }

    @Override void integrate(Transaction t, Item item) {
      t.deleteSet.add(item.client, item.clock, len);
      item.markDeleted();
    }
  }

  /** Legacy JSON content (ref 2): each element is a JSON text or the word {@code undefined}. */
  public static final class Json extends Content {
    List<String> values;

    Json(List<String> values) {
      this.values = values;
    }

    @Override public int ref() { return JSON; }
    @Override public int length() { return values.size(); }

    @Override Content splice(int offset) {
      Json right = new Json(new ArrayList<>(values.subList(offset, values.size())));
      values = new ArrayList<>(values.subList(0, offset));
      return right;
    }

    @Override boolean mergeWith(Content right) {
      values.addAll(((Json) right).values);
      return true;
    }

    @Override void write(Lib0Encoder e, int offset) {
      e.writeVarUint(values.size() - offset);
      for (int i = offset; i < values.size(); i++) e.writeVarString(values.get(i));
    }
  }

  public static final class Binary extends Content {
    final byte[] bytes;

    Binary(byte[] bytes) {
      this.bytes = bytes;
    }

    @Override public int ref() { return BINARY; }
    @Override public int length() { return 1; }
    @Override Content splice(int offset) { throw new IllegalStateException("binary content has length 1"); }

    @Override void write(Lib0Encoder e, int offset) {
      e.writeVarBytes(bytes);
    }
  }

  /**
   * Text. A run as received is an exact-size String; merged runs (typing produces long runs of
   * one-character items) become a StringBuilder, appended to in place, once they pass
   * {@link #BUILDER_FROM} characters. Most items of an edited document are short and never merged,
   * and a String costs them no spare capacity (a StringBuilder starts with 16).
   */
  public static final class Str extends Content {
    /** Merged runs shorter than this stay Strings (copying them is cheaper than spare capacity). */
    static final int BUILDER_FROM = 64;

    CharSequence text;

    Str(String s) {
      this.text = s;
    }

    public String text() {
      return text.toString();
    }

    @Override public int ref() { return STRING; }
    @Override public int length() { return text.length(); }

    @Override Content splice(int offset) {
      String all = text.toString();
      String left = all.substring(0, offset);
      String right = all.substring(offset);
      // yjs never keeps half a surrogate pair: both halves of a split pair become U+FFFD.
      if (offset > 0 && Character.isHighSurrogate(left.charAt(offset - 1))) {
        left = left.substring(0, offset - 1) + '\uFFFD';
        if (!right.isEmpty()) right = '\uFFFD' + right.substring(1);
      }
      text = left;
      return new Str(right);
    }

    @Override boolean mergeWith(Content right) {
      CharSequence more = ((Str) right).text;
      if (text instanceof StringBuilder sb) {
        sb.append(more);
      } else if (text.length() + more.length() < BUILDER_FROM) {
        text = text.toString().concat(more.toString());
      } else {
        text = new StringBuilder(2 * (text.length() + more.length())).append(text).append(more);
      }
      return true;
    }

    @Override void write(Lib0Encoder e, int offset) {
      e.writeVarString(text, offset);
    }
  }

  public static final class Embed extends Content {
    final String json;

    Embed(String json) {
      this.json = json;
    }

    @Override public int ref() { return EMBED; }
    @Override public int length() { return 1; }
    @Override Content splice(int offset) { throw new IllegalStateException("embed content has length 1"); }

    @Override void write(Lib0Encoder e, int offset) {
      e.writeVarString(json);
    }
  }

  /** A formatting mark in a text: attribute key and JSON value ({@code null} ends the range). */
  public static final class Format extends Content {
    final String key;
    final String valueJson;

    Format(String key, String valueJson) {
      this.key = key;
      this.valueJson = valueJson;
    }

    @Override public int ref() { return FORMAT; }
    @Override public int length() { return 1; }
    @Override public boolean countable() { return false; }
    @Override Content splice(int offset) { throw new IllegalStateException("format content has length 1"); }

    @Override void write(Lib0Encoder e, int offset) {
      e.writeVarString(key);
      e.writeVarString(valueJson);
    }

    @Override void integrate(Transaction t, Item item) {
      item.parent.hasFormatting = true;
    }

    /** The value as JavaScript compares it: null, a primitive's JSON text, or (objects) this very string. */
    Object jsValue() {
      return valueJson.equals("null") ? null : valueJson;
    }

    /** JavaScript {@code ===} on parsed JSON values: primitives by value, objects and arrays by identity. */
    static boolean same(Object a, Object b) {
      if (a == b) return true;
      if (a == null || b == null) return false;
      String x = (String) a;
      String y = (String) b;
      char c = x.charAt(0);
      return c != '{' && c != '[' && x.equals(y);
    }
  }

  /** A nested shared type (map, array, text, XML). */
  public static final class Type extends Content {
    final YType type;

    Type(YType type) {
      this.type = type;
    }

    public YType type() {
      return type;
    }

    @Override public int ref() { return TYPE; }
    @Override public int length() { return 1; }
    @Override Content splice(int offset) { throw new IllegalStateException("type content has length 1"); }

    @Override void write(Lib0Encoder e, int offset) {
      e.writeVarUint(type.typeRef);
      if (type.typeRef == YType.XML_ELEMENT || type.typeRef == YType.XML_HOOK) e.writeVarString(type.name);
    }

    @Override void integrate(Transaction t, Item item) {
      type.item = item;
    }

    /** The type's list items, then its current map values: the order yjs deletes them in. */
    Iterator<Item> children() {
      List<Item> mapValues = type.map == null ? List.of() : new ArrayList<>(type.map.values());
      return new Iterator<>() {
        Item next = type.start;
        int m;

        @Override public boolean hasNext() {
          return next != null || m < mapValues.size();
        }

        @Override public Item next() {
          if (next != null) {
            Item i = next;
            next = next.right;
            return i;
          }
          return mapValues.get(m++);
        }
      };
    }

    /** Every item of a type: its list, and for each key the whole chain of values (current and overwritten). */
    static Iterator<Item> allItems(YType type) {
      List<Item> all = new ArrayList<>();
      for (Item i = type.start; i != null; i = i.right) all.add(i);
      if (type.map != null) {
        for (Item item : type.map.values()) {
          for (Item i = item; i != null; i = i.left) all.add(i);
        }
      }
      return all.iterator();
    }
  }

  /** JSON-like values (lib0 Any), each kept as its exact encoding. */
  public static final class Any extends Content {
    List<byte[]> values;

    Any(List<byte[]> values) {
      this.values = values;
    }

    @Override public int ref() { return ANY; }
    @Override public int length() { return values.size(); }

    @Override Content splice(int offset) {
      Any right = new Any(new ArrayList<>(values.subList(offset, values.size())));
      values = new ArrayList<>(values.subList(0, offset));
      return right;
    }

    @Override boolean mergeWith(Content right) {
      values.addAll(((Any) right).values);
      return true;
    }

    @Override void write(Lib0Encoder e, int offset) {
      e.writeVarUint(values.size() - offset);
      for (int i = offset; i < values.size(); i++) e.writeBytes(values.get(i));
    }
  }

  /** A subdocument: its guid and options, the options already in the form yjs writes them. */
  public static final class Doc extends Content {
    final String guid;
    final byte[] options;

    Doc(String guid, byte[] options) {
      this.guid = guid;
      this.options = options;
    }

    @Override public int ref() { return DOC; }
    @Override public int length() { return 1; }
    @Override Content splice(int offset) { throw new IllegalStateException("doc content has length 1"); }

    @Override void write(Lib0Encoder e, int offset) {
      e.writeVarString(guid);
      e.writeBytes(options);
    }
  }
}
