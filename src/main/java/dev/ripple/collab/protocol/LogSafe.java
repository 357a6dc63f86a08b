package dev.ripple.collab.protocol;

/**
 * Client-controlled text made safe for one log line or an exception message: a client must not be
 * able to start a forged log line (CR, LF, U+2028), hide text (bidi overrides, other format
 * characters) or flood the log. Control and other non-printable characters are written as Java
 * escapes ({@code \n}, {@code \r}, {@code \t}, {@code \}{@code uXXXX}), a backslash as two, so an
 * escape in the output always came from us; the result is cut to {@link #MAX_CHARS} characters
 * and then ends with an ellipsis.
 */
public final class LogSafe {
  /** The most characters of the escaped text kept; past it the text is cut and "…" appended. */
  public static final int MAX_CHARS = 200;

  private LogSafe() {}

  /** The text escaped and bounded; {@code null} as "null". */
  public static String of(String s) {
    if (s == null) return "null";
    StringBuilder out = new StringBuilder(Math.min(s.length(), MAX_CHARS) + 8);
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      int units = Character.charCount(cp);
      String piece = escape(cp, s, i, units);
      if (out.length() + piece.length() > MAX_CHARS) {
        return out.append('…').toString();
      }
      out.append(piece);
      i += units;
    }
    return out.toString();
  }

  private static String escape(int cp, String s, int at, int units) {
    switch (cp) {
      case '\n': return "\\n";
      case '\r': return "\\r";
      case '\t': return "\\t";
      case '\\': return "\\\\";
      default:
        if (!printable(cp)) {
          // a lone surrogate is one unit; any other code point is escaped unit by unit
          StringBuilder b = new StringBuilder(6 * units);
          for (int k = 0; k < units; k++) b.append(String.format("\\u%04x", (int) s.charAt(at + k)));
          return b.toString();
        }
        return s.substring(at, at + units);
    }
  }

  private static boolean printable(int cp) {
    return switch (Character.getType(cp)) {
      case Character.CONTROL, Character.FORMAT, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
          Character.SURROGATE, Character.UNASSIGNED, Character.PRIVATE_USE -> false;
      default -> true;
    };
  }
}
