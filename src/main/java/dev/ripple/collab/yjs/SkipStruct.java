package dev.ripple.collab.yjs;

/** A gap in an update: clock units the update does not carry. Never stored in a document. */
public final class SkipStruct extends Struct {
  SkipStruct(long client, long clock, long length) {
    super(client, clock, length);
  }

  @Override boolean deleted() { return true; }

  @Override void write(Lib0Encoder e, long offset) {
    e.writeUint8(10);
    e.writeVarUint(length - offset);
  }

  @Override boolean mergeWith(Struct right) {
    if (!(right instanceof SkipStruct)) return false;
    length += right.length;
    return true;
  }
}
