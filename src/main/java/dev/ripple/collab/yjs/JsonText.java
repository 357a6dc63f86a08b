package dev.ripple.collab.yjs;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON texts inside updates (embeds, format values, legacy JSON content), validated and written as
 * JavaScript's {@code JSON.stringify(JSON.parse(text))} writes them, because that is what yjs stores:
 * no whitespace, integer-like keys first, JavaScript number formatting, minimal escapes. Invalid
 * JSON is rejected: every client would fail to parse it, and a room must not keep such a document.
 */
final class JsonText {
  private static final int MAX_DEPTH = 1000;

  private final String s;
  private int pos;
  private final StringBuilder out;

  private JsonText(String s) {
    this.s = s;
    this.out = new StringBuilder(s.length());
  }

  /** The canonical form of {@code text}; throws {@link UpdateFormatException} if it is not JSON. */
  static String canonical(String text) {
    JsonText p = new JsonText(text);
    p.skipWs();
    Object v = p.value(0);
    p.skipWs();
    if (p.pos != text.length()) throw p.error("unexpected text after the value");
    p.write(v);
    return p.out.toString();
  }

  /**
   * Parses {@code text} as JavaScript's {@code JSON.parse} would: objects become insertion-ordered
   * {@code Map<String, Object>} (a repeated key keeps its first position and its last value), arrays
   * {@code List<Object>}, numbers {@code Double}, and JSON null Java null.
   */
  static Object parse(String text) {
    JsonText p = new JsonText(text);
    p.skipWs();
    Object v = p.value(0);
    p.skipWs();
    if (p.pos != text.length()) throw p.error("unexpected text after the value");
    return v;
  }

  private UpdateFormatException error(String what) {
    return new UpdateFormatException("invalid JSON in update: " + what + " at character " + pos);
  }

  private void skipWs() {
    while (pos < s.length()) {
      char c = s.charAt(pos);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++;
      else break;
    }
  }

  private Object value(int depth) {
    if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
    if (pos >= s.length()) throw error("unexpected end");
    char c = s.charAt(pos);
    switch (c) {
      case '{': {
        pos++;
        // JavaScript property order: array-index keys ascending, then other keys by first insertion
        Map<String, Object> obj = new LinkedHashMap<>();
        skipWs();
        if (peek() == '}') {
          pos++;
          return obj;
        }
        while (true) {
          skipWs();
          if (peek() != '"') throw error("expected a key");
          String key = string();
          skipWs();
          if (peek() != ':') throw error("expected ':'");
          pos++;
          skipWs();
          obj.put(key, value(depth + 1));
          skipWs();
          char d = peek();
          pos++;
          if (d == '}') return obj;
          if (d != ',') throw error("expected ',' or '}'");
        }
      }
      case '[': {
        pos++;
        List<Object> arr = new ArrayList<>();
        skipWs();
        if (peek() == ']') {
          pos++;
          return arr;
        }
        while (true) {
          skipWs();
          arr.add(value(depth + 1));
          skipWs();
          char d = peek();
          pos++;
          if (d == ']') return arr;
          if (d != ',') throw error("expected ',' or ']'");
        }
      }
      case '"':
        return string();
      case 't':
        return literal("true", Boolean.TRUE);
      case 'f':
        return literal("false", Boolean.FALSE);
      case 'n':
        return literal("null", null);
      default:
        return number();
    }
  }

  private char peek() {
    if (pos >= s.length()) throw error("unexpected end");
    return s.charAt(pos);
  }

  private Object literal(String word, Object v) {
    if (!s.startsWith(word, pos)) throw error("unexpected character");
    pos += word.length();
    return v;
  }

  private String string() {
    pos++; // opening quote
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (pos >= s.length()) throw error("unterminated string");
      char c = s.charAt(pos++);
      if (c == '"') return sb.toString();
      if (c < 0x20) throw error("control character in string");
      if (c != '\\') {
        sb.append(c);
        continue;
      }
      if (pos >= s.length()) throw error("unterminated escape");
      char e = s.charAt(pos++);
      switch (e) {
        case '"', '\\', '/' -> sb.append(e);
        case 'b' -> sb.append('\b');
        case 'f' -> sb.append('\f');
        case 'n' -> sb.append('\n');
        case 'r' -> sb.append('\r');
        case 't' -> sb.append('\t');
        case 'u' -> {
          if (pos + 4 > s.length()) throw error("short \\u escape");
          int v = 0;
          for (int i = 0; i < 4; i++) {
            int h = Character.digit(s.charAt(pos++), 16);
            if (h < 0) throw error("bad \\u escape");
            v = v * 16 + h;
          }
          sb.append((char) v);
        }
        default -> throw error("bad escape \\" + e);
      }
    }
  }

  private Double number() {
    int start = pos;
    if (pos < s.length() && s.charAt(pos) == '-') pos++;
    if (pos >= s.length()) throw error("unexpected end in number");
    if (s.charAt(pos) == '0') {
      pos++;
    } else if (s.charAt(pos) >= '1' && s.charAt(pos) <= '9') {
      while (pos < s.length() && Character.isDigit(s.charAt(pos)) && s.charAt(pos) < 0x80) pos++;
    } else {
      throw error("unexpected character");
    }
    if (pos < s.length() && s.charAt(pos) == '.') {
      pos++;
      int digits = pos;
      while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') pos++;
      if (pos == digits) throw error("digits expected after '.'");
    }
    if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
      pos++;
      if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) pos++;
      int digits = pos;
      while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') pos++;
      if (pos == digits) throw error("digits expected in exponent");
    }
    return Double.parseDouble(s.substring(start, pos));
  }

  @SuppressWarnings("unchecked")
  private void write(Object v) {
    if (v == null) {
      out.append("null");
    } else if (v instanceof Boolean b) {
      out.append(b ? "true" : "false");
    } else if (v instanceof Double d) {
      out.append(Double.isFinite(d) ? numberToString(d) : "null");
    } else if (v instanceof String str) {
      quote(str);
    } else if (v instanceof List<?> list) {
      out.append('[');
      for (int i = 0; i < list.size(); i++) {
        if (i > 0) out.append(',');
        write(list.get(i));
      }
      out.append(']');
    } else {
      Map<String, Object> obj = (Map<String, Object>) v;
      List<String> indexKeys = new ArrayList<>();
      List<String> otherKeys = new ArrayList<>();
      for (String k : obj.keySet()) (isArrayIndex(k) ? indexKeys : otherKeys).add(k);
      indexKeys.sort((a, b) -> Long.compare(Long.parseLong(a), Long.parseLong(b)));
      out.append('{');
      boolean first = true;
      for (List<String> keys : List.of(indexKeys, otherKeys)) {
        for (String k : keys) {
          if (!first) out.append(',');
          first = false;
          quote(k);
          out.append(':');
          write(obj.get(k));
        }
      }
      out.append('}');
    }
  }

  /** Canonical decimal integer below 2^32 - 1: JavaScript orders such keys first. */
  static boolean isArrayIndex(String k) {
    int n = k.length();
    if (n == 0 || n > 10) return false;
    if (n > 1 && k.charAt(0) == '0') return false;
    for (int i = 0; i < n; i++) {
      char c = k.charAt(i);
      if (c < '0' || c > '9') return false;
    }
    return Long.parseLong(k) < 4294967295L;
  }

  private void quote(String str) {
    out.append('"');
    for (int i = 0; i < str.length(); i++) {
      char c = str.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          boolean loneSurrogate = Character.isSurrogate(c)
              && !(Character.isHighSurrogate(c) && i + 1 < str.length() && Character.isLowSurrogate(str.charAt(i + 1)))
              && !(Character.isLowSurrogate(c) && i > 0 && Character.isHighSurrogate(str.charAt(i - 1)));
          if (c < 0x20 || loneSurrogate) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  /** ECMAScript Number::toString for a finite double: shortest digits that round-trip. */
  static String numberToString(double d) {
    if (d == 0) return "0";
    if (d < 0) return "-" + numberToString(-d);
    BigDecimal exact = new BigDecimal(d);
    BigDecimal shortest = null;
    for (int p = 1; p <= 17; p++) {
      BigDecimal r = exact.round(new MathContext(p, RoundingMode.HALF_EVEN));
      if (r.doubleValue() == d) {
        shortest = r;
        break;
      }
    }
    BigDecimal stripped = shortest.stripTrailingZeros();
    String digits = stripped.unscaledValue().toString();
    int k = digits.length();
    int n = k - stripped.scale(); // value = 0.digits * 10^n
    StringBuilder sb = new StringBuilder();
    if (k <= n && n <= 21) {
      sb.append(digits).append("0".repeat(n - k));
    } else if (0 < n && n <= 21) {
      sb.append(digits, 0, n).append('.').append(digits, n, k);
    } else if (-6 < n && n <= 0) {
      sb.append("0.").append("0".repeat(-n)).append(digits);
    } else {
      int e = n - 1;
      sb.append(digits.charAt(0));
      if (k > 1) sb.append('.').append(digits, 1, k);
      sb.append('e').append(e < 0 ? '-' : '+').append(Math.abs(e));
    }
    return sb.toString();
  }
}
