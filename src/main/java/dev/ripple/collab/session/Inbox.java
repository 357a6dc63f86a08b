package dev.ripple.collab.session;

import dev.ripple.collab.protocol.Presence;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.yjs.Updates;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * A client's messages waiting for the session's window to its room, in order, coalesced: consecutive
 * updates become one merged update (one room message, one journal event: group commit). A sync step 1
 * or query stays where it is, so it is answered after the updates sent before it. Consecutive
 * awareness updates keep only the newest state per client id.
 *
 * <p>Updates are kept as received and merged once, when the batch leaves; merging them one by one as
 * they arrive would copy the growing batch each time. A batch whose merge fails (one of its updates is
 * malformed) leaves as its updates one by one, so the room applies the good ones and closes the
 * connection at the bad one, as it would have without coalescing.
 */
final class Inbox {
  /** One room message to be: a single message, or a run of updates to merge. */
  private static final class Entry {
    final SyncProtocol.ClientMessage single;
    final List<byte[]> updates;
    /** A run of awareness updates: the newest entry per client id. */
    final LinkedHashMap<Long, Presence.Entry> awareness;
    int awarenessMessages;
    long bytes;

    Entry(List<Presence.Entry> entries, long bytes) {
      this.single = null;
      this.updates = null;
      this.awareness = new LinkedHashMap<>();
      this.bytes = bytes;
      merge(entries);
    }

    void merge(List<Presence.Entry> entries) {
      awarenessMessages++;
      for (Presence.Entry e : entries) {
        Presence.Entry known = awareness.get(e.clientId());
        // y-protocols: a newer clock wins; an equal clock with a removal removes
        if (known == null || known.clock() < e.clock() || (known.clock() == e.clock() && e.isRemoval())) {
          awareness.remove(e.clientId()); // re-insert: the order of first arrival is not kept, the newest is last
          awareness.put(e.clientId(), e);
        }
      }
    }

    Entry(SyncProtocol.ClientMessage single, long bytes) {
      this.single = single;
      this.updates = null;
      this.awareness = null;
      this.bytes = bytes;
    }

    /** A run of updates, begun by {@code update}, counted as it was received ({@code size}: the whole message). */
    Entry(byte[] update, long size) {
      this.single = null;
      this.awareness = null;
      this.updates = new ArrayList<>(4);
      this.updates.add(update);
      this.bytes = size;
    }
  }

  /** What leaves for the room: a message and how many client messages it stands for. */
  record Batch(SyncProtocol.ClientMessage message, int coalesced, long bytes) {}

  private final ArrayDeque<Entry> entries = new ArrayDeque<>();
  private final int maxCoalesced;
  private long bytes;

  /** @param maxCoalesced most updates merged into one batch (bounds the work of one merge) */
  Inbox(int maxCoalesced) {
    this.maxCoalesced = maxCoalesced;
  }

  /** Adds a client message; an update joins the run of updates at the tail, if there is one. */
  void add(SyncProtocol.ClientMessage message, long size) {
    bytes += size;
    if (message instanceof SyncProtocol.SyncUpdate u) {
      Entry tail = entries.peekLast();
      if (tail != null && tail.updates != null && tail.updates.size() < maxCoalesced) {
        tail.updates.add(u.update());
        tail.bytes += size;
      } else {
        entries.add(new Entry(u.update(), size));
      }
      return;
    }
    if (message instanceof SyncProtocol.AwarenessUpdate a && a.entries() != null) {
      Entry tail = entries.peekLast();
      if (tail != null && tail.awareness != null) {
        tail.merge(a.entries());
        // what waits is the newest state per client id, not the sum of what came
        bytes -= size;
      } else {
        entries.add(new Entry(a.entries(), size));
      }
      return;
    }
    entries.add(new Entry(message, size));
  }

  boolean isEmpty() {
    return entries.isEmpty();
  }

  /** Room messages waiting (a run of updates counts once). */
  int size() {
    return entries.size();
  }

  /** Bytes waiting, as received. */
  long bytes() {
    return bytes;
  }

  /** The size of the next batch, as received (a merged update is usually smaller). */
  long headBytes() {
    Entry head = entries.peekFirst();
    return head == null ? 0 : head.bytes;
  }

  /** The next batch for the room, or null when nothing waits. */
  Batch poll() {
    Entry head = entries.pollFirst();
    if (head == null) return null;
    bytes -= head.bytes;
    if (head.single != null) return new Batch(head.single, 1, head.bytes);
    if (head.awareness != null) {
      List<Presence.Entry> newest = new ArrayList<>(head.awareness.values());
      return new Batch(new SyncProtocol.AwarenessUpdate(Presence.encode(newest), newest), head.awarenessMessages, head.bytes);
    }
    if (head.updates.size() == 1) return new Batch(new SyncProtocol.SyncUpdate(head.updates.get(0), false), 1, head.bytes);
    byte[] merged;
    try {
      merged = Updates.mergeUpdates(head.updates);
    } catch (RuntimeException malformed) {
      // one of them is malformed: send them one by one, in order, and let the room judge each; they hold what the
      // run held (each its update, the first also the frames' overhead), so the inbox's count stays what it received
      long overhead = head.bytes;
      for (byte[] u : head.updates) overhead -= u.length;
      for (int i = head.updates.size() - 1; i >= 0; i--) {
        byte[] u = head.updates.get(i);
        long size = u.length + (i == 0 ? overhead : 0);
        entries.addFirst(new Entry(new SyncProtocol.SyncUpdate(u, false), size));
        bytes += size;
      }
      return poll();
    }
    return new Batch(new SyncProtocol.SyncUpdate(merged, false), head.updates.size(), merged.length);
  }

  void clear() {
    entries.clear();
    bytes = 0;
  }
}
