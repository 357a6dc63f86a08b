package dev.ripple.collab.protocol;

import dev.ripple.collab.yjs.Lib0Decoder;
import dev.ripple.collab.yjs.Lib0Encoder;
import dev.ripple.collab.yjs.UpdateFormatException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The awareness states of a room (cursors, user names), as y-protocols' Awareness keeps them:
 * per client id a clock and a JSON state (kept as text). The server relays updates and must be able
 * to answer a newcomer with every state and to announce the removal of a closed connection's states.
 */
public final class Awareness {
  private record Meta(long clock, String state) {}

  /** Client id to its latest clock and state; a removed client keeps its clock with a null state. */
  private final LinkedHashMap<Long, Meta> clients = new LinkedHashMap<>();

  /** Applies an awareness update; returns the ids whose state it added or changed (non-null state). */
  public List<Long> apply(byte[] update) {
    List<Long> touched = new ArrayList<>();
    List<long[]> ids = new ArrayList<>();
    List<String> states = new ArrayList<>();
    try {
      Lib0Decoder d = new Lib0Decoder(update);
      long n = d.readVarUint();
      if (n > update.length) throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "awareness count exceeds the message");
      for (long i = 0; i < n; i++) {
        long client = d.readVarUint();
        long clock = d.readVarUint();
        ids.add(new long[] {client, clock});
        states.add(d.readVarString());
      }
    } catch (UpdateFormatException e) {
      throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "malformed awareness update: " + e.getMessage());
    }
    for (int i = 0; i < ids.size(); i++) {
      long client = ids.get(i)[0];
      long clock = ids.get(i)[1];
      String state = "null".equals(states.get(i)) ? null : states.get(i);
      Meta cur = clients.get(client);
      long curClock = cur == null ? 0 : cur.clock();
      if (curClock < clock || (curClock == clock && state == null && cur != null && cur.state() != null)) {
        clients.put(client, new Meta(clock, state));
        if (state != null) touched.add(client);
      }
    }
    return touched;
  }

  /** Marks the clients removed (clock + 1, null state) and returns the update announcing it, or null. */
  public byte[] remove(Collection<Long> ids) {
    Map<Long, Meta> removed = new LinkedHashMap<>();
    for (Long id : ids) {
      Meta m = clients.get(id);
      if (m != null && m.state() != null) {
        Meta gone = new Meta(m.clock() + 1, null);
        clients.put(id, gone);
        removed.put(id, gone);
      }
    }
    return removed.isEmpty() ? null : encode(removed);
  }

  /** Every live state as one update, or null when there is none. */
  public byte[] encodeAll() {
    Map<Long, Meta> live = new HashMap<>();
    clients.forEach((id, m) -> {
      if (m.state() != null) live.put(id, m);
    });
    return live.isEmpty() ? null : encode(live);
  }

  public int size() {
    int n = 0;
    for (Meta m : clients.values()) if (m.state() != null) n++;
    return n;
  }

  private static byte[] encode(Map<Long, Meta> entries) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(entries.size());
    entries.forEach((id, m) -> {
      e.writeVarUint(id);
      e.writeVarUint(m.clock());
      e.writeVarString(m.state() == null ? "null" : m.state());
    });
    return e.toByteArray();
  }
}
