package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * yjs removes redundant formatting marks from a text after a remote change: a yjs server holds its
 * nested texts as typed Y.Text objects, whose observer starts this cleanup, and it deletes format
 * items that no longer change any attribute. We do the same deletes, so that the document (and
 * every byte of its encoding) stays what a yjs server would hold.
 */
final class FormattingCleanup {
  private FormattingCleanup() {}

  /** Whether a yjs server would run the cleanup after {@code t}: a live typed text with formatting changed. */
  static boolean needed(Transaction t) {
    for (YType type : t.changed) {
      if ((type.item == null || !type.item.deleted()) && type.isTypedText() && type.hasFormatting) return true;
    }
    return false;
  }

  /** Runs the cleanup after the remote transaction {@code done}; returns the transaction holding its deletes. */
  static Transaction run(YDoc doc, Transaction done) {
    StructStore store = doc.store;
    LinkedHashSet<YType> fullCleanup = new LinkedHashSet<>();
    for (Map.Entry<Long, Long> e : done.before.entrySet()) {
      long before = e.getValue();
      long after = store.getState(e.getKey());
      if (before == after) continue;
      // yjs passes the end clock as the length here: every struct from `before` on is visited
      iterateStructs(done, store.structs(e.getKey()), before, after, s -> {
        if (s instanceof Item item && !item.deleted() && item.content instanceof Content.Format) fullCleanup.add(item.parent);
      });
    }
    Transaction t = new Transaction(store);
    for (Map.Entry<Long, List<DeleteSet.Range>> e : done.deleteSet.clients.entrySet()) {
      ArrayList<Struct> structs = store.structs(e.getKey());
      if (structs == null) continue;
      long state = store.getState(e.getKey());
      for (DeleteSet.Range r : e.getValue()) {
        if (r.clock() >= state) break;
        iterateStructs(done, structs, r.clock(), r.len(), s -> {
          if (!(s instanceof Item item) || !item.parent.hasFormatting || fullCleanup.contains(item.parent)) return;
          if (item.content instanceof Content.Format) {
            fullCleanup.add(item.parent);
          } else {
            cleanupContextlessGap(t, item);
          }
        });
      }
    }
    for (YType type : fullCleanup) cleanupType(t, type);
    return t;
  }

  private static void iterateStructs(Transaction t, ArrayList<Struct> structs, long clockStart, long len, Consumer<Struct> f) {
    if (len == 0) return;
    long clockEnd = clockStart + len;
    int index = StructStore.findIndexCleanStart(t, structs, clockStart);
    do {
      Struct s = structs.get(index++);
      if (clockEnd < s.clock + s.length) StructStore.findIndexCleanStart(t, structs, clockEnd);
      f.accept(s);
    } while (index < structs.size() && structs.get(index).clock < clockEnd);
  }

  private static boolean invisible(Item item) {
    return item.deleted() || !item.content.countable();
  }

  /** Only whitespace-free gaps changed: drop duplicate keys among the marks around {@code item}. */
  private static void cleanupContextlessGap(Transaction t, Item item) {
    while (item != null && item.right != null && invisible(item.right)) item = item.right;
    HashSet<String> keys = new HashSet<>();
    while (item != null && invisible(item)) {
      if (!item.deleted() && item.content instanceof Content.Format f && !keys.add(f.key)) item.delete(t);
      item = item.left;
    }
  }

  private static void cleanupType(Transaction t, YType type) {
    Item start = type.start;
    Map<String, Object> startAttributes = new HashMap<>();
    Map<String, Object> current = new HashMap<>();
    for (Item end = type.start; end != null; end = end.right) {
      if (end.deleted()) continue;
      if (end.content instanceof Content.Format f) {
        update(current, f);
      } else {
        cleanupGap(t, start, end, startAttributes, current);
        startAttributes = new HashMap<>(current);
        start = end;
      }
    }
  }

  private static void update(Map<String, Object> attrs, Content.Format f) {
    Object v = f.jsValue();
    if (v == null) attrs.remove(f.key);
    else attrs.put(f.key, v);
  }

  private static void cleanupGap(Transaction t, Item start, Item curr, Map<String, Object> startAttributes,
      Map<String, Object> currAttributes) {
    Item end = start;
    Map<String, Content.Format> endFormats = new HashMap<>();
    while (end != null && invisible(end)) {
      if (!end.deleted() && end.content instanceof Content.Format f) endFormats.put(f.key, f);
      end = end.right;
    }
    boolean reachedCurr = false;
    while (start != end) {
      if (curr == start) reachedCurr = true;
      if (!start.deleted() && start.content instanceof Content.Format f) {
        Object value = f.jsValue();
        Object startValue = startAttributes.get(f.key);
        if (endFormats.get(f.key) != f || Content.Format.same(startValue, value)) {
          // overwritten before the gap ends, or the attribute already had this value
          start.delete(t);
          if (!reachedCurr && Content.Format.same(currAttributes.get(f.key), value) && !Content.Format.same(startValue, value)) {
            if (startValue == null) currAttributes.remove(f.key);
            else currAttributes.put(f.key, startValue);
          }
        }
        if (!reachedCurr && !start.deleted()) update(currAttributes, f);
      }
      start = start.right;
    }
  }
}
