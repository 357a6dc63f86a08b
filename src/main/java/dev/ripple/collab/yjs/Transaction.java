package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.Map;

/** What one {@code apply} changed: the deletes it made and the structs worth re-merging after it. */
final class Transaction {
  final DeleteSet deleteSet = new DeleteSet();
  final Map<Long, Long> beforeState;
  final ArrayList<Item> mergeStructs = new ArrayList<>();
  /** Types whose content this transaction changed (that existed before it), in order of first change. */
  final java.util.LinkedHashSet<YType> changed = new java.util.LinkedHashSet<>();

  Transaction(Map<Long, Long> beforeState) {
    this.beforeState = beforeState;
  }

  /** As yjs's addChangedTypeToTransaction: only types that existed before and are not deleted. */
  void addChanged(YType type) {
    Item item = type.item;
    if (item == null || (item.clock < beforeState(item.client) && !item.deleted())) changed.add(type);
  }

  long beforeState(long client) {
    Long c = beforeState.get(client);
    return c == null ? 0 : c;
  }
}
