package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** State vectors (client id to next expected clock) in their v1 encoding. */
public final class StateVectors {
  private StateVectors() {}

  /** Encodes with clients in descending id order, as yjs does. */
  public static byte[] encode(Map<Long, Long> sv) {
    List<Long> ids = new ArrayList<>(sv.keySet());
    ids.sort(Collections.reverseOrder());
    Lib0Encoder e = new Lib0Encoder(2 + ids.size() * 10);
    e.writeVarUint(ids.size());
    for (Long client : ids) {
      e.writeVarUint(client);
      e.writeVarUint(sv.get(client));
    }
    return e.toByteArray();
  }

  /** Decodes; an empty array is read as the empty state vector. A client listed twice: the last wins. */
  public static Map<Long, Long> decode(byte[] sv) {
    if (sv == null) throw new UpdateFormatException("state vector is null");
    Map<Long, Long> out = new HashMap<>();
    if (sv.length == 0) return out;
    Lib0Decoder d = new Lib0Decoder(sv);
    int n = d.readCount("state vector entries");
    for (int i = 0; i < n; i++) {
      long client = d.readVarUint();
      out.put(client, d.readVarUint());
    }
    return out;
  }

  /**
   * Checks that {@code sv} is exactly one v1 state vector: a count, that many (client, clock) pairs
   * of varUints up to 2^53 - 1, and nothing after them (an empty array is the empty vector). What a
   * client or the document API sends is checked with this before a room uses it; {@link #decode}
   * stays as lenient as yjs's own decoder, which ignores trailing bytes.
   *
   * @throws UpdateFormatException naming what is wrong and where
   */
  public static void validate(byte[] sv) {
    if (sv == null) throw new UpdateFormatException("state vector is null");
    if (sv.length == 0) return;
    Lib0Decoder d = new Lib0Decoder(sv);
    int n = d.readCount("state vector entries");
    for (int i = 0; i < n; i++) {
      d.readVarUint();
      d.readVarUint();
    }
    if (d.hasContent()) throw new UpdateFormatException(d.remaining() + " bytes after the state vector's " + n + " entries");
  }
}
