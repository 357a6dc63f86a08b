package dev.ripple.collab;

import dev.ripple.collab.yjs.Lib0Encoder;

/** What a typing client sends: client 7's i-th one-character insert into the root text "t", each its own update. */
public final class TypedUpdates {
  private TypedUpdates() {}

  public static byte[] typed(int i) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(1); e.writeVarUint(1); e.writeVarUint(7); e.writeVarUint(i);
    if (i == 0) {
      e.writeUint8(4); e.writeVarUint(1); e.writeVarString("t");
    } else {
      e.writeUint8(0x84); e.writeVarUint(7); e.writeVarUint(i - 1);
    }
    e.writeVarString("x");
    e.writeVarUint(0);
    return e.toByteArray();
  }
}
