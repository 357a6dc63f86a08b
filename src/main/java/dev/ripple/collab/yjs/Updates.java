package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Operations on encoded v1 updates that need no document, with yjs's semantics: merging several
 * updates into one, cutting an update down to what a state vector lacks, and reading the state
 * vector an update brings.
 */
public final class Updates {
  private Updates() {}

  /** Structs of an update in the order they are written, with a cursor. */
  private static final class Reader {
    final List<Struct> structs = new ArrayList<>();
    final DeleteSet deleteSet;
    int pos;
    Struct curr;

    Reader(byte[] update, boolean filterSkips) {
      Lib0Decoder d = new Lib0Decoder(update);
      for (UpdateReader.ClientStructs block : UpdateReader.readStructs(d)) {
        for (Struct s : block.refs) {
          if (!(filterSkips && s instanceof SkipStruct)) structs.add(s);
        }
      }
      deleteSet = DeleteSet.read(d);
      next();
    }

    Struct next() {
      curr = pos < structs.size() ? structs.get(pos++) : null;
      return curr;
    }
  }

  /** Writes structs as runs per client; a run starts with the client and its first clock. */
  private static final class Writer {
    private final List<byte[]> runs = new ArrayList<>();
    private final List<Integer> counts = new ArrayList<>();
    private Lib0Encoder current = new Lib0Encoder();
    private long currentClient;
    private int written;

    void write(Struct s, long offset) {
      if (written > 0 && currentClient != s.client) flush();
      if (written == 0) {
        currentClient = s.client;
        current.writeVarUint(s.client);
        current.writeVarUint(s.clock + offset);
      }
      s.write(current, offset);
      written++;
    }

    private void flush() {
      if (written > 0) {
        runs.add(current.toByteArray());
        counts.add(written);
        current = new Lib0Encoder();
        written = 0;
      }
    }

    void finish(Lib0Encoder out) {
      flush();
      out.writeVarUint(runs.size());
      for (int i = 0; i < runs.size(); i++) {
        out.writeVarUint(counts.get(i));
        out.writeBytes(runs.get(i));
      }
    }
  }

  /** One update with the content of all of them (yjs's {@code mergeUpdates}). */
  public static byte[] mergeUpdates(List<byte[]> updates) {
    if (updates.size() == 1) return updates.get(0);
    List<Reader> all = new ArrayList<>(updates.size());
    for (byte[] u : updates) all.add(new Reader(u, true));
    List<Reader> readers = new ArrayList<>(all);
    Struct currWrite = null;
    Writer w = new Writer();
    while (true) {
      readers.removeIf(r -> r.curr == null);
      readers.sort(Updates::compareReaders);
      if (readers.isEmpty()) break;
      Reader currDecoder = readers.get(0);
      long firstClient = currDecoder.curr.client;
      if (currWrite != null) {
        Struct curr = currDecoder.curr;
        boolean iterated = false;
        // skip what currWrite already covers
        while (curr != null && curr.clock + curr.length <= currWrite.clock + currWrite.length && curr.client >= currWrite.client) {
          curr = currDecoder.next();
          iterated = true;
        }
        if (curr == null || curr.client != firstClient || (iterated && curr.clock > currWrite.clock + currWrite.length)) {
          continue;
        }
        if (firstClient != currWrite.client) {
          w.write(currWrite, 0);
          currWrite = curr;
          currDecoder.next();
        } else if (currWrite.clock + currWrite.length < curr.clock) {
          // a gap: bridge it with a skip
          if (currWrite instanceof SkipStruct) {
            currWrite.length = curr.clock + curr.length - currWrite.clock;
          } else {
            w.write(currWrite, 0);
            long diff = curr.clock - currWrite.clock - currWrite.length;
            currWrite = new SkipStruct(firstClient, currWrite.clock + currWrite.length, diff);
          }
        } else {
          long diff = currWrite.clock + currWrite.length - curr.clock;
          if (diff > 0) {
            if (currWrite instanceof SkipStruct) {
              currWrite.length -= diff;
            } else {
              curr = slice(curr, diff);
            }
          }
          if (!currWrite.mergeWith(curr)) {
            w.write(currWrite, 0);
            currWrite = curr;
            currDecoder.next();
          }
        }
      } else {
        currWrite = currDecoder.curr;
        currDecoder.next();
      }
      for (Struct next = currDecoder.curr;
          next != null && next.client == firstClient && next.clock == currWrite.clock + currWrite.length
              && !(next instanceof SkipStruct);
          next = currDecoder.next()) {
        w.write(currWrite, 0);
        currWrite = next;
      }
    }
    Lib0Encoder out = new Lib0Encoder(estimate(updates));
    if (currWrite != null) w.write(currWrite, 0);
    w.finish(out);
    List<DeleteSet> sets = new ArrayList<>(all.size());
    for (Reader r : all) sets.add(r.deleteSet);
    DeleteSet.merge(sets).write(out);
    return out.toByteArray();
  }

  private static int estimate(List<byte[]> updates) {
    long n = 16;
    for (byte[] u : updates) n += u.length;
    return (int) Math.min(n, 1 << 24);
  }

  private static int compareReaders(Reader a, Reader b) {
    Struct x = a.curr;
    Struct y = b.curr;
    if (x.client == y.client) {
      if (x.clock == y.clock) {
        if (x.getClass() == y.getClass()) return 0;
        return x instanceof SkipStruct ? 1 : -1;
      }
      return Long.compare(x.clock, y.clock);
    }
    return Long.compare(y.client, x.client);
  }

  private static Struct slice(Struct s, long diff) {
    if (s instanceof GcStruct) return new GcStruct(s.client, s.clock + diff, s.length - diff);
    if (s instanceof SkipStruct) return new SkipStruct(s.client, s.clock + diff, s.length - diff);
    return ((Item) s).slice(diff);
  }

  /** What of {@code update} a peer with state vector {@code stateVector} lacks (yjs's {@code diffUpdate}). */
  public static byte[] diffUpdate(byte[] update, byte[] stateVector) {
    Map<Long, Long> sv = StateVectors.decode(stateVector);
    Reader reader = new Reader(update, false);
    Writer w = new Writer();
    while (reader.curr != null) {
      Struct curr = reader.curr;
      long client = curr.client;
      long svClock = sv.getOrDefault(client, 0L);
      if (curr instanceof SkipStruct) {
        reader.next();
        continue;
      }
      if (curr.clock + curr.length > svClock) {
        w.write(curr, Math.max(svClock - curr.clock, 0));
        reader.next();
        while (reader.curr != null && reader.curr.client == client) {
          w.write(reader.curr, 0);
          reader.next();
        }
      } else {
        while (reader.curr != null && reader.curr.client == client && reader.curr.clock + reader.curr.length <= svClock) {
          reader.next();
        }
      }
    }
    Lib0Encoder out = new Lib0Encoder(update.length + 16);
    w.finish(out);
    reader.deleteSet.write(out);
    return out.toByteArray();
  }

  /** The state vector of the structs an update holds from clock 0 on, without gaps. */
  public static byte[] encodeStateVectorFromUpdate(byte[] update) {
    Reader reader = new Reader(update, false);
    Lib0Encoder pairs = new Lib0Encoder();
    int size = 0;
    Struct curr = reader.curr;
    if (curr != null) {
      long currClient = curr.client;
      boolean stopCounting = curr.clock != 0;
      long currClock = stopCounting ? 0 : curr.clock + curr.length;
      for (; curr != null; curr = reader.next()) {
        if (currClient != curr.client) {
          if (currClock != 0) {
            size++;
            pairs.writeVarUint(currClient);
            pairs.writeVarUint(currClock);
          }
          currClient = curr.client;
          currClock = 0;
          stopCounting = curr.clock != 0;
        }
        if (curr instanceof SkipStruct) stopCounting = true;
        if (!stopCounting) currClock = curr.clock + curr.length;
      }
      if (currClock != 0) {
        size++;
        pairs.writeVarUint(currClient);
        pairs.writeVarUint(currClock);
      }
    }
    Lib0Encoder out = new Lib0Encoder(pairs.length() + 4);
    out.writeVarUint(size);
    out.writeBytes(pairs.toByteArray());
    return out.toByteArray();
  }
}
