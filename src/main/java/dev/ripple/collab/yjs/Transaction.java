package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;

/** What one {@code apply} changed: the deletes it made and the structs worth re-merging after it. */
final class Transaction {
  final DeleteSet deleteSet = new DeleteSet();
  private final StructStore store;
  /**
   * The state each client had before this transaction added its first struct to it. Only clients
   * it touches are recorded: a document remembers every client that ever edited it (each browser
   * session is a new one), and a full state vector per update would cost time in all of them.
   */
  final LinkedHashMap<Long, Long> before = new LinkedHashMap<>();
  final ArrayList<Item> mergeStructs = new ArrayList<>();
  /** Types whose content this transaction changed (that existed before it), in order of first change. */
  final LinkedHashSet<YType> changed = new LinkedHashSet<>();

  Transaction(StructStore store) {
    this.store = store;
  }

  /** Call before adding a struct of {@code client} to the store. */
  void touch(long client) {
    if (!before.containsKey(client)) before.put(client, store.getState(client));
  }

  /** As yjs's addChangedTypeToTransaction: only types that existed before and are not deleted. */
  void addChanged(YType type) {
    Item item = type.item;
    if (item == null || (item.clock < beforeState(item.client) && !item.deleted())) changed.add(type);
  }

  /** The client's state before this transaction (unchanged clients: their current state). */
  long beforeState(long client) {
    Long c = before.get(client);
    return c == null ? store.getState(client) : c;
  }
}
