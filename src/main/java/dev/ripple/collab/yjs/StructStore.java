package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * All structs of a document, per client, sorted by clock and without gaps: a client's state (the
 * next clock it will use) is the end of its last struct.
 */
public final class StructStore {
  final LinkedHashMap<Long, ArrayList<Struct>> clients = new LinkedHashMap<>();

  ArrayList<Struct> structs(long client) {
    return clients.get(client);
  }

  public long getState(long client) {
    ArrayList<Struct> structs = clients.get(client);
    if (structs == null) return 0;
    Struct last = structs.get(structs.size() - 1);
    return last.clock + last.length;
  }

  /** Client to state, for every client with structs. */
  public Map<Long, Long> stateVector() {
    Map<Long, Long> sv = new HashMap<>(clients.size() * 2);
    for (Map.Entry<Long, ArrayList<Struct>> e : clients.entrySet()) {
      ArrayList<Struct> s = e.getValue();
      Struct last = s.get(s.size() - 1);
      sv.put(e.getKey(), last.clock + last.length);
    }
    return sv;
  }

  void addStruct(Transaction t, Struct struct) {
    t.touch(struct.client);
    ArrayList<Struct> structs = clients.get(struct.client);
    if (structs == null) {
      structs = new ArrayList<>();
      clients.put(struct.client, structs);
    } else {
      Struct last = structs.get(structs.size() - 1);
      if (last.clock + last.length != struct.clock) {
        throw new IllegalStateException("struct " + struct.client + ":" + struct.clock + " leaves a gap");
      }
    }
    structs.add(struct);
  }

  /** Index of the struct containing {@code clock}; the caller has checked that it exists. */
  static int findIndex(ArrayList<Struct> structs, long clock) {
    int left = 0;
    int right = structs.size() - 1;
    Struct mid = structs.get(right);
    if (mid.clock == clock) return right;
    // a first guess proportional to the clock: exact for uniformly sized structs
    int midIndex = (int) ((double) clock / (mid.clock + mid.length - 1) * right);
    if (midIndex < 0 || midIndex > right) midIndex = (left + right) >>> 1;
    while (left <= right) {
      mid = structs.get(midIndex);
      if (mid.clock <= clock) {
        if (clock < mid.clock + mid.length) return midIndex;
        left = midIndex + 1;
      } else {
        right = midIndex - 1;
      }
      midIndex = (left + right) >>> 1;
    }
    throw new IllegalStateException("no struct holds clock " + clock);
  }

  Struct find(long client, long clock) {
    ArrayList<Struct> structs = clients.get(client);
    return structs.get(findIndex(structs, clock));
  }

  /** Index of a struct starting exactly at {@code clock}, splitting an item if needed. */
  static int findIndexCleanStart(Transaction t, ArrayList<Struct> structs, long clock) {
    int index = findIndex(structs, clock);
    Struct s = structs.get(index);
    if (s.clock < clock && s instanceof Item item) {
      structs.add(index + 1, item.split(t, clock - s.clock));
      return index + 1;
    }
    return index;
  }

  Struct getItemCleanStart(Transaction t, long client, long clock) {
    ArrayList<Struct> structs = clients.get(client);
    return structs.get(findIndexCleanStart(t, structs, clock));
  }

  /** The struct ending exactly at {@code clock} (inclusive), splitting an item if needed. */
  Struct getItemCleanEnd(Transaction t, long client, long clock) {
    ArrayList<Struct> structs = clients.get(client);
    int index = findIndex(structs, clock);
    Struct s = structs.get(index);
    if (clock != s.clock + s.length - 1 && s instanceof Item item) {
      structs.add(index + 1, item.split(t, clock - s.clock + 1));
    }
    return s;
  }

  void replaceStruct(Struct old, Struct replacement) {
    ArrayList<Struct> structs = clients.get(old.client);
    structs.set(findIndex(structs, old.clock), replacement);
  }
}
