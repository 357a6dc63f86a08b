package dev.ripple.collab.room;

import akka.serialization.SerializerWithStringManifest;
import java.io.NotSerializableException;
import java.util.Arrays;

/**
 * Binary serialization of what rooms journal: a version byte followed by the raw bytes (a Yjs
 * update or a full state). No JSON, no base64: the journal holds what clients sent.
 */
public final class RoomSerializer extends SerializerWithStringManifest {
  private static final byte VERSION = 1;
  private static final String UPDATE = "U";
  private static final String COMPACTED = "C";
  private static final String SNAPSHOT = "S";

  @Override
  public int identifier() {
    return 4711_0001;
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof Room.UpdateApplied) return UPDATE;
    if (o instanceof Room.Compacted) return COMPACTED;
    if (o instanceof Room.Snapshot) return SNAPSHOT;
    throw new IllegalArgumentException("cannot serialize " + o.getClass());
  }

  @Override
  public byte[] toBinary(Object o) {
    byte[] payload;
    if (o instanceof Room.UpdateApplied u) payload = u.update();
    else if (o instanceof Room.Compacted) payload = new byte[0];
    else if (o instanceof Room.Snapshot s) payload = s.state();
    else throw new IllegalArgumentException("cannot serialize " + o.getClass());
    byte[] out = new byte[payload.length + 1];
    out[0] = VERSION;
    System.arraycopy(payload, 0, out, 1, payload.length);
    return out;
  }

  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    if (bytes.length == 0 || bytes[0] != VERSION) {
      throw new NotSerializableException("unknown room serialization version in " + manifest);
    }
    byte[] payload = Arrays.copyOfRange(bytes, 1, bytes.length);
    return switch (manifest) {
      case UPDATE -> new Room.UpdateApplied(payload);
      case COMPACTED -> new Room.Compacted();
      case SNAPSHOT -> new Room.Snapshot(payload);
      default -> throw new NotSerializableException("unknown manifest " + manifest);
    };
  }
}
