package dev.ripple.collab.yjs;

import static dev.ripple.collab.yjs.YjsTestSupport.hex;
import static dev.ripple.collab.yjs.YjsTestSupport.unhex;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * UTF-8 as WHATWG defines it. Every expected decoding below is what Node 20's
 * {@code new TextDecoder().decode(bytes)} returned for the same bytes, written as code points.
 */
class Utf8Test {

  private static String decode(byte[] b) {
    return Utf8.decode(b, 0, b.length);
  }

  /** Code points of {@code s} as space-separated lowercase hex, as the expectations are written. */
  private static String codePoints(String s) {
    StringBuilder sb = new StringBuilder();
    s.codePoints().forEach(cp -> {
      if (sb.length() > 0) sb.append(' ');
      sb.append(Integer.toHexString(cp));
    });
    return sb.toString();
  }

  private static String encode(String s) {
    byte[] out = new byte[Utf8.encodedLength(s)];
    int end = Utf8.encode(s, out, 0);
    assertEquals(out.length, end, "encodedLength agrees with encode");
    return hex(out);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "e282ac, 20ac",
      "c3a9, e9",
      "f09f9880, 1f600",
      "f0908080, 10000",
      "f48fbfbf, 10ffff",
  })
  void validSequencesDecodeToTheirCodePoints(String bytes, String expected) {
    assertEquals(expected, codePoints(decode(unhex(bytes))));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "c0, fffd",
      "c080, fffd fffd",
      "c1bf, fffd fffd",
      "e080af, fffd fffd fffd",
      "f08080af, fffd fffd fffd fffd",
      "fc8080808080, fffd fffd fffd fffd fffd fffd",
  })
  void overlongEncodingsDecodeToOneReplacementPerByte(String bytes, String expected) {
    assertEquals(expected, codePoints(decode(unhex(bytes))));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "eda080, fffd fffd fffd",
      "edbfbf, fffd fffd fffd",
      "eda080edb080, fffd fffd fffd fffd fffd fffd",
  })
  void surrogateCodePointsEncodedInUtf8DecodeToReplacementPerByte(String bytes, String expected) {
    assertEquals(expected, codePoints(decode(unhex(bytes))));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "f4908080, fffd fffd fffd fffd",
      "f5, fffd",
      "fe, fffd",
      "ff, fffd",
  })
  void bytesBeyondU10ffffDecodeToReplacement(String bytes, String expected) {
    assertEquals(expected, codePoints(decode(unhex(bytes))));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "80, fffd",
      "bf, fffd",
      "61f0f09f988062, 61 fffd 1f600 62",
  })
  void strayContinuationAndLeadBytesDecodeToOneReplacementEach(String bytes, String expected) {
    assertEquals(expected, codePoints(decode(unhex(bytes))));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "c2, fffd",
      "41c2, 41 fffd",
      "c280c2, 80 fffd",
      "e1, fffd",
      "e180, fffd",
      "e0a0, fffd",
      "f1, fffd",
      "f18080, fffd",
  })
  void truncatedSequenceAtEndDecodesToOneReplacement(String bytes, String expected) {
    assertEquals(expected, codePoints(decode(unhex(bytes))));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "e18041, fffd 41",
      "f1808041, fffd 41",
  })
  void truncatedSequenceFollowedByAsciiKeepsTheAscii(String bytes, String expected) {
    assertEquals(expected, codePoints(decode(unhex(bytes))));
  }

  @Test
  void byteOrderMarkIsKeptAsLib0DecodesWithIgnoreBom() {
    // lib0 builds its TextDecoder with ignoreBOM: true, so a leading U+FEFF is content
    assertEquals("feff 41", codePoints(decode(unhex("efbbbf41"))));
  }

  @Test
  void decodeRespectsOffsetAndLength() {
    byte[] b = unhex("41e282ac42");
    assertEquals("\u20ac", Utf8.decode(b, 1, 3));
    assertEquals("fffd", codePoints(Utf8.decode(b, 1, 2)), "a window ending inside a sequence truncates it");
  }

  @Test
  void loneSurrogatesEncodeAsReplacementCharacter() {
    assertEquals("efbfbd", encode("\uD800"));
    assertEquals("efbfbd", encode("\uDFFF"));
    assertEquals("61efbfbdefbfbd62", encode("a\uDE00\uD83Db"));
  }

  @Test
  void surrogatePairEncodesAsFourBytes() {
    assertEquals("f09f9880", encode("\uD83D\uDE00"));
    assertEquals("f48fbfbf", encode(new String(Character.toChars(0x10FFFF))));
  }

  @Test
  void encodeMatchesTheJdkForWellFormedText() {
    String s = "aé€😀\u0000\u07ff\u0800\uffff";
    assertEquals(hex(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)), encode(s));
  }

  @Test
  void replacementCharacterBytesDecodeBackToReplacementCharacter() {
    assertEquals("\uFFFD", decode(unhex("efbfbd")));
  }
}
