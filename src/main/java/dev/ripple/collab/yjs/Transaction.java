package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.Map;

/** What one {@code apply} changed: the deletes it made and the structs worth re-merging after it. */
final class Transaction {
  final DeleteSet deleteSet = new DeleteSet();
  final Map<Long, Long> beforeState;
  final ArrayList<Item> mergeStructs = new ArrayList<>();

  Transaction(Map<Long, Long> beforeState) {
    this.beforeState = beforeState;
  }

  long beforeState(long client) {
    Long c = beforeState.get(client);
    return c == null ? 0 : c;
  }
}
