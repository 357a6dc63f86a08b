package dev.ripple.collab.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Client text in log lines and exception messages: escaped, bounded, never a second line. */
class LogSafeTest {
  static final String FORGED = "start\n2024-01-01 00:00:00 INFO  dev.ripple.collab.Main - admin logged in";

  /** Whether the text would show as more than one line (or hide part of itself) in a log. */
  static boolean breaksTheLine(String s) {
    return s.chars().anyMatch(c -> Character.isISOControl(c) || c == '\u2028' || c == '\u2029'
        || Character.getType(c) == Character.FORMAT);
  }

  @Test
  void printableTextStaysAsItIs() {
    assertEquals("doc-1 ü 😀 \"quoted\" <tag>", LogSafe.of("doc-1 ü 😀 \"quoted\" <tag>"));
  }

  @Test
  void lineBreaksAndTabsAreEscaped() {
    assertEquals("a\\nb\\rc\\td", LogSafe.of("a\nb\rc\td"));
  }

  @Test
  void otherNonPrintablesAreUnicodeEscapes() {
    assertEquals("\\u0000\\u001b[31m\\u007f\\u2028\\u202e\\ud800x", LogSafe.of("\u0000\u001b[31m\u007f\u2028\u202e\ud800x"));
  }

  @Test
  void aBackslashIsDoubledSoEveryEscapeIsOurs() {
    assertEquals("\\\\n", LogSafe.of("\\n"));
    assertTrue(!LogSafe.of("\\n").equals(LogSafe.of("\n")));
  }

  @Test
  void longTextIsCutWithAnEllipsis() {
    String cut = LogSafe.of("x".repeat(10_000));
    assertEquals("x".repeat(LogSafe.MAX_CHARS) + "…", cut);
    assertEquals("x".repeat(LogSafe.MAX_CHARS), LogSafe.of("x".repeat(LogSafe.MAX_CHARS)));
  }

  @Test
  void theCutNeverSplitsAnEscapeOrASurrogatePair() {
    String escapes = LogSafe.of("\n".repeat(500));
    assertEquals("\\n".repeat(LogSafe.MAX_CHARS / 2) + "…", escapes);
    String emoji = LogSafe.of("x" + "😀".repeat(500));
    assertTrue(emoji.length() <= LogSafe.MAX_CHARS + 1);
    assertFalse(Character.isHighSurrogate(emoji.charAt(emoji.length() - 2)), emoji);
  }

  @Test
  void nullIsTheWordNull() {
    assertEquals("null", LogSafe.of(null));
  }

  @Test
  void aPercentDecodedNewlineInABatchMarkerTypeCannotStartASecondLogLine() {
    // what a client gets past a URL-decoding proxy or types into the JSON string itself
    String newline = URLDecoder.decode("%0A", StandardCharsets.UTF_8);
    String jsonEscaped = BatchAssembler.SENTINEL + "#{\"id\":\"x\",\"type\":\"start\\n2024-01-01 INFO forged\"}";
    String raw = BatchAssembler.SENTINEL + "#{\"id\":\"x\",\"type\":\"start" + newline + "2024-01-01 INFO forged\"}";
    for (String marker : new String[] {jsonEscaped, raw}) {
      ProtocolException e = assertThrows(ProtocolException.class, () -> new BatchAssembler(1024, 10).onText(marker));
      assertFalse(breaksTheLine(e.getMessage()), e.getMessage());
    }
    ProtocolException e = assertThrows(ProtocolException.class, () -> new BatchAssembler(1024, 10).onText(jsonEscaped));
    assertEquals("unexpected batch marker type start\\n2024-01-01 INFO forged", e.getMessage());
  }

  @Test
  void aMarkerThatIsNotJsonCannotStartASecondLogLineEither() {
    String newline = URLDecoder.decode("%0A", StandardCharsets.UTF_8);
    for (String json : new String[] {"{\"type\":start" + newline + "FORGED", "{'type" + newline + "FORGED':1}", FORGED,
        "{\"type\":\"start\",\"size\":1e99999" + newline + "FORGED}", "{\"id\":\"\u202e" + "x".repeat(5000)}) {
      ProtocolException e = assertThrows(ProtocolException.class, () -> new BatchAssembler(1024, 10).onText(BatchAssembler.SENTINEL + "#" + json));
      assertFalse(breaksTheLine(e.getMessage()), e.getMessage());
      assertTrue(e.getMessage().length() < 300, e.getMessage());
    }
  }
}
