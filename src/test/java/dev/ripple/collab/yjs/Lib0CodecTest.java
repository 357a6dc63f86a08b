package dev.ripple.collab.yjs;

import static dev.ripple.collab.yjs.YjsTestSupport.b;
import static dev.ripple.collab.yjs.YjsTestSupport.cat;
import static dev.ripple.collab.yjs.YjsTestSupport.hex;
import static dev.ripple.collab.yjs.YjsTestSupport.unhex;
import static dev.ripple.collab.yjs.YjsTestSupport.vu;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * lib0's binary encoding. Expected bytes were produced by lib0 0.2.120 in Node 20
 * ({@code encoding.writeVarUint / writeVarInt / writeVarString / writeAny}).
 */
class Lib0CodecTest {

  private static byte[] encodeVarUint(long n) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(n);
    return e.toByteArray();
  }

  // ---------------------------------------------------------------- varUint

  @ParameterizedTest(name = "{0} <-> {1}")
  @CsvSource({
      "0, 00",
      "127, 7f",
      "128, 8001",
      "2147483648, 8080808008",
      "4294967296, 8080808010",
      "9007199254740991, ffffffffffffff0f",
  })
  void varUintRoundTripsWithLib0Bytes(long value, String lib0Hex) {
    assertEquals(lib0Hex, hex(encodeVarUint(value)));
    Lib0Decoder d = new Lib0Decoder(unhex(lib0Hex));
    assertEquals(value, d.readVarUint());
    assertFalse(d.hasContent(), "the whole encoding is consumed");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {
      "8080808080808010",     // 2^53
      "ffffffffffffff1f",     // 2^54 - 1
      "ffffffffffffffff7f",   // 2^63 - 1
      "808080808080808001",   // 2^56, nine bytes
  })
  void varUintAboveMaxSafeIntegerIsRejected(String hexBytes) {
    UpdateFormatException e = assertThrows(UpdateFormatException.class,
        () -> new Lib0Decoder(unhex(hexBytes)).readVarUint());
    assertTrue(e.getMessage().contains("2^53-1"), e.getMessage());
  }

  @Test
  void varUintTruncatedAfterContinuationByteIsRejected() {
    UpdateFormatException e = assertThrows(UpdateFormatException.class,
        () -> new Lib0Decoder(b(0x80, 0x80)).readVarUint());
    assertTrue(e.getMessage().contains("unexpected end"), e.getMessage());
  }

  @Test
  void varUintOnEmptyInputIsRejected() {
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(new byte[0]).readVarUint());
  }

  @Test
  void readsStopAtTheDecoderWindowEnd() {
    // the byte after the window is a valid terminator, but lies outside the window
    byte[] buf = b(0x05, 0x80, 0x01);
    Lib0Decoder d = new Lib0Decoder(buf, 0, 2);
    assertEquals(5, d.readVarUint());
    assertThrows(UpdateFormatException.class, d::readVarUint);
  }

  // ---------------------------------------------------------------- varInt

  @ParameterizedTest(name = "{1} -> {0}")
  @CsvSource({
      "0, 00",
      "1, 01",
      "-1, 41",
      "63, 3f",
      "-63, 7f",
      "64, 8001",
      "-64, c001",
      "2147483647, bfffffff0f",
      "-2147483648, c080808010",
      "9007199254740991, bfffffffffffff1f",
      "-9007199254740991, ffffffffffffff1f",
  })
  void varIntDecodesLib0Bytes(long value, String lib0Hex) {
    Lib0Decoder d = new Lib0Decoder(unhex(lib0Hex));
    assertEquals(value, d.readVarInt());
    assertFalse(d.hasContent());
  }

  @Test
  void varIntNegativeZeroHasOnlyTheSignBitAndReadsAsZero() {
    // lib0 writes -0 as 0x40: bit 7 (0x80) continuation clear, bit 6 (0x40) sign set, value bits 0
    Lib0Decoder d = new Lib0Decoder(b(0x40));
    assertEquals(0L, d.readVarInt());
    assertFalse(d.hasContent());
  }

  @Test
  void varIntSignComesFromTheFirstByteOnly() {
    // 0xC0 0x40: negative, continuation; second byte 0x40 is a plain value byte (64 << 6)
    assertEquals(-(64L << 6), new Lib0Decoder(b(0xC0, 0x40)).readVarInt());
  }

  @Test
  void varIntAboveMaxSafeIntegerIsRejected() {
    // 2^54 - 1: 6 + 7*6 + 6 bits
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(unhex("bfffffffffffff3f")).readVarInt());
  }

  @Test
  void varIntTruncatedAfterContinuationByteIsRejected() {
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(b(0x80)).readVarInt());
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(new byte[0]).readVarInt());
  }

  // ---------------------------------------------------------------- varString

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "ascii, 'abc', 03616263",
      "empty, '', 00",
      "two-byte, 'é', 02c3a9",
      "three-byte, '€', 03e282ac",
      "four-byte, '😀', 04f09f9880",
  })
  void varStringRoundTripsWithLib0Bytes(String kind, String s, String lib0Hex) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarString(s);
    assertEquals(lib0Hex, hex(e.toByteArray()));
    Lib0Decoder d = new Lib0Decoder(unhex(lib0Hex));
    assertEquals(s, d.readVarString());
    assertFalse(d.hasContent());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "lone high, '\uD800', 03efbfbd",
      "lone low, '\uDC00', 03efbfbd",
      "lone high between ascii, 'a\uD800b', 0561efbfbd62",
      "reversed pair, '\uDE00\uD83D', 06efbfbdefbfbd",
  })
  void varStringWritesLoneSurrogatesAsReplacementCharacterLikeTextEncoder(String kind, String s, String lib0Hex) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarString(s);
    assertEquals(lib0Hex, hex(e.toByteArray()));
  }

  @Test
  void varStringFromOffsetStartingInsideAPairWritesReplacementCharacter() {
    // yjs writes str.slice(1) of "😀x": a lone low surrogate, then 'x'
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarString("\uD83D\uDE00x", 1);
    assertEquals("04efbfbd78", hex(e.toByteArray()));
  }

  @Test
  void stringLengthLargerThanRemainingDataIsRejectedWithoutAllocating() {
    // a claimed length of 2^31 - 1 would need a 2 GB buffer if it were trusted
    byte[] data = cat(vu(Integer.MAX_VALUE), b('a', 'b'));
    UpdateFormatException e = assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(data).readVarString());
    assertTrue(e.getMessage().contains("exceeds"), e.getMessage());
  }

  @Test
  void stringLengthOf2Pow40IsRejected() {
    byte[] data = cat(vu(1L << 40), b('a'));
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(data).readVarString());
  }

  @Test
  void stringLengthOneMoreThanRemainingIsRejected() {
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(b(3, 'a', 'b')).readVarString());
    assertEquals("ab", new Lib0Decoder(b(2, 'a', 'b')).readVarString());
  }

  @Test
  void bytesLengthLargerThanRemainingDataIsRejectedWithoutAllocating() {
    byte[] data = cat(vu(Integer.MAX_VALUE), b(1, 2, 3));
    UpdateFormatException e = assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(data).readVarBytes());
    assertTrue(e.getMessage().contains("exceeds"), e.getMessage());
  }

  @Test
  void varBytesRoundTrip() {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarBytes(b(1, 2, 255));
    assertEquals("030102ff", hex(e.toByteArray()));
    assertArrayEquals(b(1, 2, 255), new Lib0Decoder(e.toByteArray()).readVarBytes());
  }

  @Test
  void countLargerThanRemainingBytesIsRejected() {
    byte[] data = cat(vu(1L << 31), b(0, 0, 0));
    UpdateFormatException e = assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(data).readCount("things"));
    assertTrue(e.getMessage().contains("things count 2147483648"), e.getMessage());
  }

  // ---------------------------------------------------------------- Any

  /** lib0 writeAny output for one value of each tag. */
  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "undefined (127), 7f",
      "null (126), 7e",
      "int 5 (125), 7d05",
      "int -5 (125), 7d45",
      "float32 1.5 (124), 7c3fc00000",
      "float64 0.1 (123), 7b3fb999999999999a",
      "bigint 5n (122), 7a0000000000000005",
      "false (121), 79",
      "true (120), 78",
      "string 'hi' (119), 77026869",
      "object {a:1} (118), 760101617d01",
      "array of 1 and x (117), 75027d01770178",
      "Uint8Array of 1 and 2 (116), 74020102",
  })
  void skipAnyAcceptsEveryLib0Tag(String kind, String lib0Hex) {
    byte[] bytes = unhex(lib0Hex);
    byte[] withTrailer = cat(bytes, b(0x42));
    Lib0Decoder d = new Lib0Decoder(withTrailer);
    assertArrayEquals(bytes, d.readAnyRaw(), "exactly the value's bytes are consumed");
    assertEquals(0x42, d.readUint8());
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"7d", "7d80", "7c3fc000", "7b3fb99999999999", "7a00000000000000", "7703", "7602",
      "760101", "76010161", "7502", "75027d01", "7403", "740201"})
  void skipAnyRejectsTruncatedValues(String hexBytes) {
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(unhex(hexBytes)).skipAny());
  }

  @ParameterizedTest(name = "tag {0}")
  @ValueSource(ints = {0, 1, 100, 115, 128, 200, 255})
  void skipAnyRejectsUnknownTags(int tag) {
    UpdateFormatException e = assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(b(tag)).skipAny());
    assertTrue(e.getMessage().contains("unknown Any tag " + tag), e.getMessage());
  }

  @Test
  void skipAnyRejectsUnknownTagNestedInArrayAndObject() {
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(unhex("75027e73")).skipAny());
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(unhex("7601016173")).skipAny());
  }

  private static byte[] nestedArrays(int levels, boolean complete) {
    byte[] out = new byte[levels * 2 + (complete ? 1 : 0)];
    for (int i = 0; i < levels; i++) {
      out[2 * i] = (byte) 117;
      out[2 * i + 1] = 1;
    }
    if (complete) out[out.length - 1] = (byte) 126;
    return out;
  }

  @Test
  void skipAnyAcceptsCompleteArrayNested100000LevelsWithoutStackOverflow() {
    byte[] deep = nestedArrays(100_000, true);
    Lib0Decoder d = new Lib0Decoder(deep);
    d.skipAny();
    assertFalse(d.hasContent());
  }

  @Test
  void skipAnyRejectsTruncatedArrayNested100000LevelsWithoutStackOverflow() {
    byte[] deep = nestedArrays(100_000, false);
    UpdateFormatException e = assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(deep).skipAny());
    assertTrue(e.getMessage().contains("at byte 200000"), e.getMessage());
  }

  @Test
  void skipAnyAcceptsObjectsNested100000LevelsWithoutStackOverflow() {
    // {"k": {"k": ... null}}
    int levels = 100_000;
    byte[] deep = new byte[levels * 4 + 1];
    for (int i = 0; i < levels; i++) {
      deep[4 * i] = (byte) 118;
      deep[4 * i + 1] = 1;
      deep[4 * i + 2] = 1;
      deep[4 * i + 3] = 'k';
    }
    deep[deep.length - 1] = (byte) 126;
    Lib0Decoder d = new Lib0Decoder(deep);
    d.skipAny();
    assertFalse(d.hasContent());
  }

  @Test
  void skipAnyReadsSiblingsAfterANestedContainer() {
    // [[1, 2], "x", {a: []}] then a trailing byte
    byte[] v = unhex("7503" + "75027d017d02" + "770178" + "7601" + "0161" + "7500");
    Lib0Decoder d = new Lib0Decoder(cat(v, b(9)));
    assertArrayEquals(v, d.readAnyRaw());
    assertEquals(9, d.readUint8());
  }

  @Test
  void skipAnyRejectsArrayCountLargerThanRemainingBytes() {
    byte[] data = cat(b(117), vu(1L << 31), new byte[8]);
    Arrays.fill(data, data.length - 8, data.length, (byte) 126);
    assertThrows(UpdateFormatException.class, () -> new Lib0Decoder(data).skipAny());
  }
}
