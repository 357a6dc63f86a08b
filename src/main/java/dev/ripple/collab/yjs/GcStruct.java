package dev.ripple.collab.yjs;

/** Garbage-collected clock range: only its length is known. */
public final class GcStruct extends Struct {
  GcStruct(long client, long clock, long length) {
    super(client, clock, length);
  }

  @Override boolean deleted() { return true; }

  @Override void write(Lib0Encoder e, long offset) {
    e.writeUint8(0);
    e.writeVarUint(length - offset);
  }

  @Override boolean mergeWith(Struct right) {
    if (!(right instanceof GcStruct)) return false;
    length += right.length;
    return true;
  }
}
