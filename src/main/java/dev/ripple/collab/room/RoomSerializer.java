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
  private static final String LOADED = "L";
  private static final String CONFIRMED = "B";

  @Override
  public int identifier() {
    return 4711_0001;
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof Room.UpdateApplied) return UPDATE;
    if (o instanceof Room.Compacted) return COMPACTED;
    if (o instanceof Room.Snapshot) return SNAPSHOT;
    if (o instanceof Room.BackupLoaded) return LOADED;
    if (o instanceof Room.BackupConfirmed) return CONFIRMED;
    throw new IllegalArgumentException("cannot serialize " + o.getClass());
  }

  @Override
  public byte[] toBinary(Object o) {
    byte[] payload;
    if (o instanceof Room.UpdateApplied u) payload = u.update();
    else if (o instanceof Room.Compacted) payload = new byte[0];
    else if (o instanceof Room.Snapshot s) payload = snapshot(s);
    else if (o instanceof Room.BackupLoaded l) payload = l.state();
    else if (o instanceof Room.BackupConfirmed c) payload = java.nio.ByteBuffer.allocate(8).putLong(c.updates()).array();
    else throw new IllegalArgumentException("cannot serialize " + o.getClass());
    byte[] out = new byte[payload.length + 1];
    out[0] = VERSION;
    System.arraycopy(payload, 0, out, 1, payload.length);
    return out;
  }

  /** Snapshot payload: updates (8 bytes), saved updates (8), loaded flag (1), then the document state. */
  private static byte[] snapshot(Room.Snapshot s) {
    return java.nio.ByteBuffer.allocate(17 + s.state().length)
        .putLong(s.updates()).putLong(s.savedUpdates()).put((byte) (s.loaded() ? 1 : 0)).put(s.state()).array();
  }

  private static Room.Snapshot snapshot(byte[] payload) throws NotSerializableException {
    if (payload.length < 17) throw new NotSerializableException("room snapshot too short");
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(payload);
    long updates = b.getLong();
    long saved = b.getLong();
    boolean loaded = b.get() != 0;
    return new Room.Snapshot(Arrays.copyOfRange(payload, 17, payload.length), updates, saved, loaded);
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
      case SNAPSHOT -> snapshot(payload);
      case LOADED -> new Room.BackupLoaded(payload);
      case CONFIRMED -> new Room.BackupConfirmed(java.nio.ByteBuffer.wrap(payload).getLong());
      default -> throw new NotSerializableException("unknown manifest " + manifest);
    };
  }
}
