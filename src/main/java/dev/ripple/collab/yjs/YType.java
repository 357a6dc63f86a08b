package dev.ripple.collab.yjs;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Set;

/**
 * A shared type as the server sees it: a list of items ({@link #start}) and a map from key to the
 * current item of that key. Root types have no item and are known by name only; their kind is
 * never encoded, so the server need not know it.
 */
public final class YType {
  public static final int ARRAY = 0;
  public static final int MAP = 1;
  public static final int TEXT = 2;
  public static final int XML_ELEMENT = 3;
  public static final int XML_FRAGMENT = 4;
  public static final int XML_HOOK = 5;
  public static final int XML_TEXT = 6;
  /** Root types: the kind is whatever the clients make of it. */
  public static final int ROOT = -1;

  final int typeRef;
  /** nodeName of an XML element, hookName of an XML hook, root name of a root type. */
  final String name;
  /** The item that holds this type, or null for a root type. */
  Item item;
  Item start;
  /** Current item per key; insertion-ordered like a JavaScript Map. Null until first use. */
  LinkedHashMap<String, Item> map;
  /** Set once a format item was integrated here: yjs then cleans up redundant formats. */
  boolean hasFormatting;

  YType(int typeRef, String name) {
    this.typeRef = typeRef;
    this.name = name;
  }

  public int typeRef() { return typeRef; }
  public String name() { return name; }
  public Item firstItem() { return start; }

  public Item mapItem(String key) {
    return map == null ? null : map.get(key);
  }

  public Set<String> keys() {
    return map == null ? Set.of() : Collections.unmodifiableSet(map.keySet());
  }

  /** Nested texts are typed Y.Text/Y.XmlText objects in a yjs server; roots stay untyped there. */
  boolean isTypedText() {
    return typeRef == TEXT || typeRef == XML_TEXT;
  }

  void mapPut(String key, Item item) {
    if (map == null) map = new LinkedHashMap<>();
    map.put(key, item);
  }
}
