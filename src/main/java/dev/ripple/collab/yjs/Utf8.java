package dev.ripple.collab.yjs;

import java.nio.charset.StandardCharsets;

/**
 * UTF-8 as the WHATWG Encoding standard (and so JavaScript's TextEncoder/TextDecoder) defines it.
 * Java's own encoder writes '?' for a lone surrogate where JavaScript writes U+FFFD (EF BF BD), and
 * a string split inside a surrogate pair must encode exactly as yjs encodes it.
 */
public final class Utf8 {
  private Utf8() {}

  /** Number of bytes {@link #encode} writes for {@code s}. */
  public static int encodedLength(CharSequence s) {
    return encodedLength(s, 0, s.length());
  }

  /** Number of bytes {@link #encode} writes for {@code s[from, to)}. */
  public static int encodedLength(CharSequence s, int from, int len) {
    int n = 0;
    for (int i = from; i < len; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < len && Character.isLowSurrogate(s.charAt(i + 1))) {
        n += 4;
        i++;
      } else {
        n += 3; // BMP char, or a lone surrogate written as U+FFFD
      }
    }
    return n;
  }

  /** Writes {@code s} into {@code out} at {@code pos}; returns the position after it. */
  public static int encode(CharSequence s, byte[] out, int pos) {
    return encode(s, 0, s.length(), out, pos);
  }

  /** Writes {@code s[from, len)} into {@code out} at {@code pos}; returns the position after it. */
  public static int encode(CharSequence s, int from, int len, byte[] out, int pos) {
    for (int i = from; i < len; i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        out[pos++] = (byte) c;
      } else if (c < 0x800) {
        out[pos++] = (byte) (0xC0 | (c >> 6));
        out[pos++] = (byte) (0x80 | (c & 0x3F));
      } else if (Character.isSurrogate(c)) {
        if (Character.isHighSurrogate(c) && i + 1 < len && Character.isLowSurrogate(s.charAt(i + 1))) {
          int cp = Character.toCodePoint(c, s.charAt(++i));
          out[pos++] = (byte) (0xF0 | (cp >> 18));
          out[pos++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
          out[pos++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
          out[pos++] = (byte) (0x80 | (cp & 0x3F));
        } else {
          out[pos++] = (byte) 0xEF;
          out[pos++] = (byte) 0xBF;
          out[pos++] = (byte) 0xBD;
        }
      } else {
        out[pos++] = (byte) (0xE0 | (c >> 12));
        out[pos++] = (byte) (0x80 | ((c >> 6) & 0x3F));
        out[pos++] = (byte) (0x80 | (c & 0x3F));
      }
    }
    return pos;
  }

  /**
   * Decodes well-formed UTF-8 and rejects anything else, as lib0 does: it reads strings with
   * {@code new TextDecoder('utf-8', {fatal: true, ignoreBOM: true})}, so yjs refuses an update
   * holding invalid UTF-8. Returns null if the bytes are not well-formed UTF-8.
   */
  public static String decodeStrict(byte[] b, int off, int len) {
    int end = off + len;
    int i = off;
    while (i < end) {
      int c = b[i] & 0xFF;
      if (c < 0x80) {
        i++;
        continue;
      }
      int need;
      int lower = 0x80;
      int upper = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lower = 0xA0;
        if (c == 0xED) upper = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lower = 0x90;
        if (c == 0xF4) upper = 0x8F;
      } else {
        return null;
      }
      if (i + need >= end) return null; // truncated sequence
      for (int k = 1; k <= need; k++) {
        int cc = b[i + k] & 0xFF;
        if (cc < lower || cc > upper) return null;
        lower = 0x80;
        upper = 0xBF;
      }
      i += need + 1;
    }
    // well-formed: the JDK's decoder yields the same UTF-16 as TextDecoder
    return new String(b, off, len, StandardCharsets.UTF_8);
  }

  /**
   * Decodes with replacement, as TextDecoder does: every maximal invalid subpart becomes one
   * U+FFFD. The UTF-16 length of the result is what a Yjs string item counts as its length.
   */
  public static String decode(byte[] b, int off, int len) {
    int end = off + len;
    boolean ascii = true;
    for (int i = off; i < end; i++) {
      if (b[i] < 0) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return new String(b, off, len, StandardCharsets.ISO_8859_1);
    }
    StringBuilder sb = new StringBuilder(len);
    int i = off;
    while (i < end) {
      int c = b[i] & 0xFF;
      if (c < 0x80) {
        sb.append((char) c);
        i++;
        continue;
      }
      int need;
      int cp;
      int lower = 0x80;
      int upper = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
      } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
        if (c == 0xE0) lower = 0xA0;
        if (c == 0xED) upper = 0x9F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
        if (c == 0xF0) lower = 0x90;
        if (c == 0xF4) upper = 0x8F;
      } else {
        sb.append('\uFFFD');
        i++;
        continue;
      }
      int j = i + 1;
      boolean ok = true;
      for (int k = 0; k < need; k++, j++) {
        if (j >= end) {
          ok = false;
          break;
        }
        int cc = b[j] & 0xFF;
        if (cc < lower || cc > upper) {
          ok = false;
          break;
        }
        lower = 0x80;
        upper = 0xBF;
        cp = (cp << 6) | (cc & 0x3F);
      }
      if (!ok) {
        sb.append('\uFFFD');
        i = j; // the bytes consumed so far form the maximal subpart; the offending byte is reread
        continue;
      }
      sb.appendCodePoint(cp);
      i = j;
    }
    return sb.toString();
  }
}
