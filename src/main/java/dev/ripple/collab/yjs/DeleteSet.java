package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Deleted clock ranges per client, as written at the end of every update. */
public final class DeleteSet {
  /** A deleted range [clock, clock + len). */
  public record Range(long clock, long len) {}

  final LinkedHashMap<Long, List<Range>> clients = new LinkedHashMap<>();

  public Map<Long, List<Range>> ranges() {
    return clients;
  }

  public boolean isEmpty() {
    return clients.isEmpty();
  }

  void add(long client, long clock, long len) {
    clients.computeIfAbsent(client, c -> new ArrayList<>()).add(new Range(clock, len));
  }

  /** Sorts each client's ranges and joins overlapping or adjacent ones. */
  void sortAndMerge() {
    for (Map.Entry<Long, List<Range>> e : clients.entrySet()) {
      List<Range> dels = e.getValue();
      dels.sort(Comparator.comparingLong(Range::clock));
      int j = 1;
      for (int i = 1; i < dels.size(); i++) {
        Range left = dels.get(j - 1);
        Range right = dels.get(i);
        if (left.clock() + left.len() >= right.clock()) {
          dels.set(j - 1, new Range(left.clock(), Math.max(left.len(), right.clock() + right.len() - left.clock())));
        } else {
          dels.set(j++, right);
        }
      }
      while (dels.size() > j) dels.remove(dels.size() - 1);
    }
  }

  /** Union of delete sets (client order: first seen first), sorted and merged. */
  static DeleteSet merge(List<DeleteSet> sets) {
    DeleteSet merged = new DeleteSet();
    for (DeleteSet ds : sets) {
      for (Map.Entry<Long, List<Range>> e : ds.clients.entrySet()) {
        merged.clients.computeIfAbsent(e.getKey(), c -> new ArrayList<>()).addAll(e.getValue());
      }
    }
    merged.sortAndMerge();
    return merged;
  }

  /** The deleted ranges of a store: runs of deleted structs, per client. */
  static DeleteSet fromStore(StructStore store) {
    DeleteSet ds = new DeleteSet();
    for (Map.Entry<Long, ArrayList<Struct>> e : store.clients.entrySet()) {
      ArrayList<Struct> structs = e.getValue();
      List<Range> ranges = null;
      for (int i = 0; i < structs.size(); i++) {
        Struct s = structs.get(i);
        if (s.deleted()) {
          long clock = s.clock;
          long len = s.length;
          while (i + 1 < structs.size() && structs.get(i + 1).deleted()) len += structs.get(++i).length;
          if (ranges == null) ranges = new ArrayList<>();
          ranges.add(new Range(clock, len));
        }
      }
      if (ranges != null) ds.clients.put(e.getKey(), ranges);
    }
    return ds;
  }

  /** Writes clients in descending id order, as yjs does. */
  void write(Lib0Encoder e) {
    List<Long> ids = new ArrayList<>(clients.keySet());
    ids.sort(Comparator.reverseOrder());
    e.writeVarUint(ids.size());
    for (Long client : ids) {
      List<Range> ranges = clients.get(client);
      e.writeVarUint(client);
      e.writeVarUint(ranges.size());
      for (Range r : ranges) {
        e.writeVarUint(r.clock());
        e.writeVarUint(r.len());
      }
    }
  }

  /** Reads a delete set; clients with zero ranges are dropped, as yjs drops them. */
  static DeleteSet read(Lib0Decoder d) {
    DeleteSet ds = new DeleteSet();
    int n = d.readCount("delete set clients");
    for (int i = 0; i < n; i++) {
      long client = d.readVarUint();
      int count = d.readCount("delete ranges");
      if (count == 0) continue;
      List<Range> ranges = ds.clients.computeIfAbsent(client, c -> new ArrayList<>());
      for (int k = 0; k < count; k++) {
        long clock = d.readVarUint();
        long len = d.readVarUint();
        if (clock + len > Lib0Decoder.MAX_SAFE_INTEGER) throw d.error("delete range end exceeds 2^53-1");
        ranges.add(new Range(clock, len));
      }
    }
    return ds;
  }
}
