package dev.ripple.collab.yjs;

import java.util.Arrays;

/**
 * Reads lib0's binary encoding (varUint, varInt, varString, Any) from a byte array. Every read is
 * bounds-checked and throws {@link UpdateFormatException} naming the offset; nothing is read past
 * the end, and no length is trusted before the bytes it claims are known to exist.
 */
public final class Lib0Decoder {
  /** 2^53 - 1: the largest integer lib0 reads, and the largest Yjs client id. */
  public static final long MAX_SAFE_INTEGER = (1L << 53) - 1;

  private final byte[] buf;
  private int pos;
  private final int end;

  public Lib0Decoder(byte[] buf) {
    this(buf, 0, buf.length);
  }

  public Lib0Decoder(byte[] buf, int off, int len) {
    this.buf = buf;
    this.pos = off;
    this.end = off + len;
  }

  public int pos() {
    return pos;
  }

  void setPos(int pos) {
    this.pos = pos;
  }

  public byte[] array() {
    return buf;
  }

  public boolean hasContent() {
    return pos < end;
  }

  public int remaining() {
    return end - pos;
  }

  UpdateFormatException error(String what) {
    return new UpdateFormatException(what + " at byte " + pos);
  }

  public int readUint8() {
    if (pos >= end) throw error("unexpected end of data reading a byte");
    return buf[pos++] & 0xFF;
  }

  /** lib0 varUint, at most 2^53 - 1. */
  public long readVarUint() {
    long num = 0;
    int shift = 0;
    while (true) {
      if (pos >= end) throw error("unexpected end of data in varUint");
      int r = buf[pos++] & 0xFF;
      if (shift >= 53 && (r & 0x7F) != 0) throw error("varUint exceeds 2^53-1");
      num |= ((long) (r & 0x7F)) << shift;
      if (num > MAX_SAFE_INTEGER) throw error("varUint exceeds 2^53-1");
      if (r < 0x80) return num;
      shift += 7;
      if (shift > 63) throw error("varUint too long");
    }
  }

  /** A varUint that must fit a Java array length or index; {@code what} names it in errors. */
  public int readLength(String what) {
    long v = readVarUint();
    if (v > Integer.MAX_VALUE) throw error(what + " " + v + " is too large");
    return (int) v;
  }

  /** lib0 varInt: the sign is bit 7 of the first byte, which carries 6 value bits. */
  public long readVarInt() {
    int r = readUint8();
    long num = r & 0x3F;
    int shift = 6;
    boolean negative = (r & 0x40) != 0;
    while ((r & 0x80) != 0) {
      if (pos >= end) throw error("unexpected end of data in varInt");
      r = buf[pos++] & 0xFF;
      if (shift > 53) throw error("varInt exceeds 2^53-1");
      num |= ((long) (r & 0x7F)) << shift;
      if (num > MAX_SAFE_INTEGER) throw error("varInt exceeds 2^53-1");
      shift += 7;
    }
    return negative ? -num : num;
  }

  /** Bounds-checked: the claimed length must be present before anything is allocated. */
  private int checkedLength(String what) {
    long n = readVarUint();
    if (n > end - pos) throw error(what + " of " + n + " bytes exceeds the " + (end - pos) + " remaining");
    return (int) n;
  }

  public String readVarString() {
    int n = checkedLength("string");
    String s = Utf8.decodeStrict(buf, pos, n);
    if (s == null) throw error("string is not valid UTF-8");
    pos += n;
    return s;
  }

  public byte[] readVarBytes() {
    int n = checkedLength("byte array");
    byte[] out = Arrays.copyOfRange(buf, pos, pos + n);
    pos += n;
    return out;
  }

  public void skip(int n, String what) {
    if (n > end - pos) throw error("unexpected end of data in " + what);
    pos += n;
  }

  /** A count of elements that each take at least one byte: rejects counts the data cannot hold. */
  public int readCount(String what) {
    long n = readVarUint();
    if (n > end - pos) throw error(what + " count " + n + " exceeds the " + (end - pos) + " bytes remaining");
    return (int) n;
  }

  /**
   * Skips one lib0 Any value (tags 116..127) and validates it, without recursion, so that deeply
   * nested input cannot overflow the stack.
   */
  public void skipAny() {
    // pending[i] = elements still to read at nesting level i; objects count key+value pairs.
    int[] pending = new int[8];
    boolean[] isObject = new boolean[8];
    int depth = 0;
    pending[0] = 1;
    isObject[0] = false;
    while (depth >= 0) {
      if (pending[depth] == 0) {
        depth--;
        continue;
      }
      pending[depth]--;
      if (isObject[depth]) {
        skip(checkedLength("object key"), "object key");
      }
      int tag = readUint8();
      switch (tag) {
        case 127, 126, 121, 120 -> { }
        case 125 -> readVarInt();
        case 124 -> skip(4, "float32");
        case 123 -> skip(8, "float64");
        case 122 -> skip(8, "bigint64");
        case 119, 116 -> skip(checkedLength(tag == 119 ? "string" : "byte array"), "Any");
        case 118, 117 -> {
          int n = readCount(tag == 118 ? "object" : "array");
          if (n > 0) {
            depth++;
            if (depth == pending.length) {
              pending = Arrays.copyOf(pending, depth * 2);
              isObject = Arrays.copyOf(isObject, depth * 2);
            }
            pending[depth] = n;
            isObject[depth] = tag == 118;
          }
        }
        default -> {
          pos--;
          throw error("unknown Any tag " + tag);
        }
      }
    }
  }

  /** Reads one Any value as raw bytes (its exact encoding), validated. */
  public byte[] readAnyRaw() {
    int start = pos;
    skipAny();
    return Arrays.copyOfRange(buf, start, pos);
  }
}
