package dev.ripple.collab.yjs;

import java.util.Arrays;

/** Writes lib0's binary encoding into a growable buffer. The symmetric twin of {@link Lib0Decoder}. */
public final class Lib0Encoder {
  private byte[] buf;
  private int pos;

  public Lib0Encoder() {
    this(64);
  }

  public Lib0Encoder(int capacity) {
    buf = new byte[Math.max(16, capacity)];
  }

  public int length() {
    return pos;
  }

  private void ensure(int extra) {
    if (pos + extra > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + extra));
    }
  }

  public void writeUint8(int b) {
    ensure(1);
    buf[pos++] = (byte) b;
  }

  public void writeVarUint(long num) {
    ensure(10);
    while (num > 0x7F) {
      buf[pos++] = (byte) (0x80 | (num & 0x7F));
      num >>>= 7;
    }
    buf[pos++] = (byte) num;
  }

  public void writeVarString(CharSequence s) {
    writeVarString(s, 0);
  }

  /** Writes {@code s} from UTF-16 index {@code from} on, as yjs writes {@code str.slice(from)}. */
  public void writeVarString(CharSequence s, int from) {
    int n = s.length();
    if (from >= n) {
      writeUint8(0);
      return;
    }
    int bytes = Utf8.encodedLength(s, from, n);
    writeVarUint(bytes);
    ensure(bytes);
    pos = Utf8.encode(s, from, n, buf, pos);
  }

  public void writeVarBytes(byte[] b) {
    writeVarUint(b.length);
    writeBytes(b, 0, b.length);
  }

  public void writeBytes(byte[] b) {
    writeBytes(b, 0, b.length);
  }

  public void writeBytes(byte[] b, int off, int len) {
    ensure(len);
    System.arraycopy(b, off, buf, pos, len);
    pos += len;
  }

  public byte[] toByteArray() {
    return Arrays.copyOf(buf, pos);
  }
}
