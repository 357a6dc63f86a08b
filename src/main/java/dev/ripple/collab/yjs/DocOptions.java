package dev.ripple.collab.yjs;

import java.nio.ByteBuffer;

/**
 * Subdocument options as yjs writes them. yjs does not keep the options it reads: it builds a
 * {@code Y.Doc} from them and writes back only {@code gc: false}, {@code autoLoad: true} and
 * {@code meta}, in that order and only when they differ from the defaults. We do the same, so a
 * subdocument encodes exactly as yjs encodes it.
 */
final class DocOptions {
  private DocOptions() {}

  static byte[] canonical(Lib0Decoder d) {
    byte[] buf = d.array();
    boolean gc = true;
    boolean autoLoad = false;
    int metaStart = -1;
    int metaEnd = -1;
    int tag = d.readUint8();
    if (tag == 118) {
      int n = d.readCount("subdocument options");
      for (int i = 0; i < n; i++) {
        String key = d.readVarString();
        int start = d.pos();
        d.skipAny();
        switch (key) {
          case "gc" -> gc = truthy(buf, start);
          case "autoLoad" -> autoLoad = truthy(buf, start);
          case "meta" -> {
            int t = buf[start] & 0xFF;
            if (t == 127 || t == 126) { // undefined and null both leave meta at its default
              metaStart = -1;
            } else {
              metaStart = start;
              metaEnd = d.pos();
            }
          }
          default -> { }
        }
      }
    } else {
      d.setPos(d.pos() - 1);
      d.skipAny(); // not an object: spreads to nothing, every option keeps its default
    }
    Lib0Encoder e = new Lib0Encoder(16);
    e.writeUint8(118);
    e.writeVarUint((gc ? 0 : 1) + (autoLoad ? 1 : 0) + (metaStart >= 0 ? 1 : 0));
    if (!gc) {
      e.writeVarString("gc");
      e.writeUint8(121);
    }
    if (autoLoad) {
      e.writeVarString("autoLoad");
      e.writeUint8(120);
    }
    if (metaStart >= 0) {
      e.writeVarString("meta");
      e.writeBytes(buf, metaStart, metaEnd - metaStart);
    }
    return e.toByteArray();
  }

  /** JavaScript truthiness of the (already validated) Any value at {@code pos}. */
  static boolean truthy(byte[] buf, int pos) {
    int tag = buf[pos] & 0xFF;
    switch (tag) {
      case 127, 126, 121: return false;
      case 120, 118, 117, 116: return true;
      case 125: {
        Lib0Decoder d = new Lib0Decoder(buf, pos + 1, buf.length - pos - 1);
        return d.readVarInt() != 0;
      }
      case 124: {
        float f = ByteBuffer.wrap(buf, pos + 1, 4).getFloat();
        return f != 0 && !Float.isNaN(f);
      }
      case 123: {
        double v = ByteBuffer.wrap(buf, pos + 1, 8).getDouble();
        return v != 0 && !Double.isNaN(v);
      }
      case 122: return ByteBuffer.wrap(buf, pos + 1, 8).getLong() != 0;
      case 119: return buf[pos + 1] != 0; // varUint byte length: zero only for ""
      default: throw new IllegalStateException("unvalidated Any tag " + tag);
    }
  }
}
