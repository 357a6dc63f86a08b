package dev.ripple.collab.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.protocol.Presence.Entry;
import dev.ripple.collab.protocol.Presence.Limits;
import dev.ripple.collab.yjs.Lib0Encoder;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Awareness with ownership and limits: what a room keeps, relays and refuses. */
class PresenceTest {
  private static final Limits LIMITS = new Limits(4, 1024);

  /**
   * y-protocols 1.0.6 {@code encodeAwarenessUpdate} for client 3141592653 after
   * {@code setLocalStateField('user', {name: 'Ada ✓', color: '#30bced'})} and
   * {@code setLocalStateField('cursor', null)} (clock 2), then after {@code setLocalState(null)} (clock 3).
   */
  private static final byte[] YPROTOCOLS_STATE = HexFormat.of().parseHex(
      "01cdcc83da0b023b7b2275736572223a7b226e616d65223a2241646120e29c93222c22636f6c6f72223a2223333062636564227d2c22637572736f72223a6e756c6c7d");
  private static final byte[] YPROTOCOLS_REMOVAL = HexFormat.of().parseHex("01cdcc83da0b03046e756c6c");
  private static final long ADA = 3141592653L;

  private static byte[] update(Entry... entries) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(entries.length);
    for (Entry en : entries) {
      e.writeVarUint(en.clientId());
      e.writeVarUint(en.clock());
      e.writeVarString(en.state() == null ? "null" : en.state());
    }
    return e.toByteArray();
  }

  private static byte[] rawState(long clientId, long clock, String json) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(1);
    e.writeVarUint(clientId);
    e.writeVarUint(clock);
    e.writeVarString(json);
    return e.toByteArray();
  }

  private static Entry state(long id, long clock) {
    return new Entry(id, clock, "{\"n\":" + clock + "}");
  }

  private static Entry removal(long id, long clock) {
    return new Entry(id, clock, null);
  }

  private static List<Entry> decoded(byte[] update) {
    return Presence.validate(update, new Limits(1000, 1 << 20));
  }

  private static void assertClose(int code, Executable call) {
    ProtocolException e = assertThrows(ProtocolException.class, call);
    assertEquals(code, e.closeCode(), e.getMessage());
  }

  private static long allocatedBytes() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
  }

  // ------------------------------------------------------------------ validate

  @Test
  void aYProtocolsUpdateRoundTripsByteForByte() {
    List<Entry> entries = Presence.validate(YPROTOCOLS_STATE, LIMITS);
    assertEquals(List.of(new Entry(ADA, 2, "{\"user\":{\"name\":\"Ada ✓\",\"color\":\"#30bced\"},\"cursor\":null}")), entries);
    Presence p = new Presence(LIMITS);
    p.apply("a", entries);
    assertArrayEquals(YPROTOCOLS_STATE, p.flush());
    assertArrayEquals(YPROTOCOLS_STATE, p.encodeAll());

    List<Entry> gone = Presence.validate(YPROTOCOLS_REMOVAL, LIMITS);
    assertEquals(List.of(removal(ADA, 3)), gone);
    p.apply("a", gone);
    assertArrayEquals(YPROTOCOLS_REMOVAL, p.flush());
  }

  @Test
  void countOverTheLimitIsRefusedFromTheHeaderWithoutAllocatingPerEntry() {
    // ~23 MB announcing 3,000,000 ids: a real size for such an attack, refused after one varUint
    byte[] huge = new byte[23 << 20];
    Lib0Encoder header = new Lib0Encoder();
    header.writeVarUint(3_000_000);
    byte[] h = header.toByteArray();
    System.arraycopy(h, 0, huge, 0, h.length);
    // first throw links the string concatenation and loads classes: not what is measured
    assertThrows(ProtocolException.class, () -> Presence.validate(Arrays.copyOf(h, 64), LIMITS));
    long before = allocatedBytes();
    ProtocolException e = assertThrows(ProtocolException.class, () -> Presence.validate(huge, LIMITS));
    long allocated = allocatedBytes() - before;
    assertEquals(CloseCodes.POLICY_VIOLATION, e.closeCode());
    assertTrue(e.getMessage().contains("3000000"), e.getMessage());
    assertTrue(allocated < 64 * 1024, "refusing allocated " + allocated + " bytes");
  }

  @Test
  void countTheBytesCannotHoldIsInvalidPayload() {
    assertClose(CloseCodes.INVALID_PAYLOAD, () -> Presence.validate(new byte[] {3, 1, 1, 1, '0', 2, 1}, LIMITS));
  }

  @Test
  void stateOverMaxStateBytesIsRefused() {
    String fits = "\"" + "é".repeat(511) + "\""; // 1024 UTF-8 bytes, 513 chars
    assertEquals(1, Presence.validate(rawState(1, 1, fits), LIMITS).size());
    String over = "\"" + "é".repeat(511) + "x\"";
    assertClose(CloseCodes.POLICY_VIOLATION, () -> Presence.validate(rawState(1, 1, over), LIMITS));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "{", "{\"a\":1", "{\"a\":1,}", "[1,]", "{a:1}", "{'a':1}", "undefined", "NaN",
      "Infinity", "01", "1.", ".5", "+1", "1e", "-", "\"\\x\"", "\"\\u12\"", "\"tab\there\"", "{} {}", "1 2",
      "{}x", "123abc", "null null", "nul", "// c\n{}", "\uFEFF{}", "\"unterminated"})
  void stateThatJsonParseRejectsIsRefusedWithAReason(String json) {
    ProtocolException e = assertThrows(ProtocolException.class, () -> Presence.validate(rawState(7, 1, json), LIMITS));
    assertEquals(CloseCodes.POLICY_VIOLATION, e.closeCode(), e.getMessage());
    assertTrue(e.getMessage().contains("client 7 is not JSON: "), e.getMessage());
  }

  @Test
  void aRefusedStatesReasonIsOneEscapedLogLineWhateverTheStateHolds() {
    // Jackson quotes the offending input in its message: a newline, a carriage return or a bidi override in
    // the state would otherwise reach the log (and the close reason) as the client wrote it
    // (Jackson's token runs on over identifier-ignorable and format characters: a control character, a bidi override)
    for (String json : new String[] {"{\"a\":tru\u0001\u202eFORGED}", "nul\u0007\u0085\u202ex", "{\"a\":tru\n2024-01-01 INFO forged",
        "[1,\u202e\u0007x\u2028y]", "nul" + "\u0001x".repeat(3000)}) {
      ProtocolException e = assertThrows(ProtocolException.class, () -> Presence.validate(rawState(7, 1, json), new Limits(4, 64 * 1024)));
      String reason = e.getMessage();
      assertEquals(CloseCodes.POLICY_VIOLATION, e.closeCode(), reason);
      assertTrue(reason.startsWith("awareness state of client 7 is not JSON: "), reason);
      assertTrue(reason.chars().noneMatch(c -> c < 0x20 || (c >= 0x7f && c < 0xa0) || c == 0x2028 || c == 0x2029 || c == 0x202e), reason);
      assertTrue(reason.length() < 300, reason);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"{}", " {\"a\":[1,2,{\"b\":null}]}\n", "\"text\"", "0", "-0.5e-3", "true", "[]",
      "{\"a\":1,\"a\":2}", "\"\\ud800\"", "\"\\u00e9\\n\""})
  void stateThatJsonParseAcceptsIsKept(String json) {
    assertEquals(List.of(new Entry(7, 1, json)), Presence.validate(rawState(7, 1, json), LIMITS));
  }

  @Test
  void anyJsonNullIsARemoval() {
    assertEquals(List.of(removal(7, 1)), Presence.validate(rawState(7, 1, " null\n"), LIMITS));
    assertEquals(List.of(new Entry(7, 1, "\"null\"")), Presence.validate(rawState(7, 1, "\"null\""), LIMITS));
  }

  @Test
  void jsonNestedDeeperThan64IsRefused() {
    String ok = "[".repeat(64) + "]".repeat(64);
    assertEquals(1, Presence.validate(rawState(1, 1, ok), LIMITS).size());
    String deep = "[".repeat(65) + "]".repeat(65);
    ProtocolException e = assertThrows(ProtocolException.class, () -> Presence.validate(rawState(1, 1, deep), LIMITS));
    assertEquals(CloseCodes.POLICY_VIOLATION, e.closeCode());
    assertTrue(e.getMessage().contains("nested deeper than 64"), e.getMessage());
  }

  @Test
  void trailingBytesAreInvalidPayload() {
    byte[] withGarbage = Arrays.copyOf(YPROTOCOLS_STATE, YPROTOCOLS_STATE.length + 1);
    assertClose(CloseCodes.INVALID_PAYLOAD, () -> Presence.validate(withGarbage, LIMITS));
  }

  @Test
  void everyTruncationIsInvalidPayload() {
    for (int n = 0; n < YPROTOCOLS_STATE.length; n++) {
      byte[] cut = Arrays.copyOf(YPROTOCOLS_STATE, n);
      assertClose(CloseCodes.INVALID_PAYLOAD, () -> Presence.validate(cut, LIMITS));
    }
  }

  @Test
  void invalidUtf8IsInvalidPayload() {
    byte[] u = new byte[] {1, 1, 1, 3, '"', (byte) 0xC3, '"'};
    assertClose(CloseCodes.INVALID_PAYLOAD, () -> Presence.validate(u, LIMITS));
  }

  // ------------------------------------------------------------------ ownership

  @Test
  void anIdOwnedByAnotherConnectionIsSkippedAndCounted() {
    Presence p = new Presence(LIMITS);
    p.apply("a", List.of(state(1, 1)));
    p.flush();
    p.apply("b", List.of(state(1, 2), removal(1, 1)));
    assertNull(p.flush(), "nothing of b's is relayed");
    assertEquals(2, p.skippedForeign());
    assertEquals(1, p.idsOf("a"));
    assertEquals(0, p.idsOf("b"));
    assertEquals(List.of(state(1, 1)), decoded(p.encodeAll()));
  }

  @Test
  void aRemovalReleasesOwnership() {
    Presence p = new Presence(LIMITS);
    p.apply("a", List.of(state(1, 1)));
    p.apply("a", List.of(removal(1, 2)));
    assertEquals(0, p.idsOf("a"));
    p.apply("b", List.of(state(1, 3)));
    assertEquals(1, p.idsOf("b"));
    assertEquals(0, p.skippedForeign());
    assertEquals(List.of(state(1, 3)), decoded(p.flush()));
  }

  @Test
  void aNewIdBeyondTheConnectionLimitIsRefusedAndChangesNothing() {
    Presence p = new Presence(LIMITS);
    p.apply("a", List.of(state(1, 1), state(2, 1), state(3, 1)));
    p.flush();
    ProtocolException e = assertThrows(ProtocolException.class,
        () -> p.apply("a", List.of(state(1, 2), state(4, 1), state(5, 1))));
    assertEquals(CloseCodes.POLICY_VIOLATION, e.closeCode());
    assertEquals(3, p.idsOf("a"));
    assertNull(p.flush(), "the refused update changed nothing");
    p.apply("a", List.of(state(1, 2), state(4, 1), state(4, 2))); // ids it owns, and one new id twice
    assertEquals(4, p.idsOf("a"));
  }

  @Test
  void clockRulesFollowYProtocols() {
    Presence p = new Presence(LIMITS);
    p.apply("a", List.of(state(1, 0)));
    assertEquals(0, p.size(), "an unknown client's clock 0 is not newer than nothing (y-protocols)");
    p.apply("a", List.of(state(1, 5), state(1, 4), state(1, 5)));
    assertEquals(List.of(state(1, 5)), decoded(p.encodeAll()), "an older or equal clock with a state is ignored");
    p.apply("a", List.of(removal(1, 5)));
    assertEquals(0, p.size(), "an equal clock with null removes");
    assertEquals(List.of(removal(1, 5)), decoded(p.flush()));
  }

  // ------------------------------------------------------------------ flush

  @Test
  void flushCoalescesToTheNewestEntryPerClient() {
    Presence p = new Presence(LIMITS);
    for (int clock = 1; clock <= 10; clock++) p.apply("a", List.of(state(1, clock)));
    p.apply("a", List.of(state(2, 1)));
    assertEquals(List.of(state(1, 10), state(2, 1)), decoded(p.flush()));
    assertNull(p.flush(), "nothing since the last flush");
  }

  @Test
  void removedIdsAreForgottenOnceFlushed() {
    Presence p = new Presence(new Limits(1, 1024));
    for (int id = 1; id <= 100; id++) {
      p.apply("a", List.of(state(id, 1)));
      p.apply("a", List.of(removal(id, 2)));
    }
    assertEquals(0, p.size());
    assertEquals(100, p.trackedIds(), "removals wait for the flush");
    assertEquals(100, decoded(p.flush()).size());
    assertEquals(0, p.trackedIds());
  }

  @Test
  void removeConnectionAnnouncesClockPlusOneRemovals() {
    Presence p = new Presence(LIMITS);
    p.apply("a", List.of(state(1, 4), state(2, 9)));
    p.apply("b", List.of(state(3, 1)));
    p.flush();
    p.removeConnection("a");
    assertEquals(0, p.idsOf("a"));
    assertEquals(1, p.size());
    assertEquals(List.of(removal(1, 5), removal(2, 10)), decoded(p.flush()));
    assertEquals(1, p.trackedIds());
    p.removeConnection("a"); // twice, or a connection that never sent awareness: nothing
    assertNull(p.flush());
  }

  @Test
  void encodeAllExcludesRemovedStates() {
    Presence p = new Presence(LIMITS);
    p.apply("a", List.of(state(1, 1), state(2, 1)));
    p.apply("b", List.of(state(3, 1)));
    p.apply("a", List.of(removal(2, 2)));
    p.removeConnection("b");
    assertEquals(List.of(state(1, 1)), decoded(p.encodeAll()));
    p.removeConnection("a");
    assertNull(p.encodeAll());
  }

  @Test
  void anEchoOfEveryoneInTheRoomIsSkippedNotClosed() {
    // y-websocket's provider sends back every change it receives: the states of up to everyone in the room
    Limits roomOfTen = new Limits(4, 1024, 40);
    Presence p = new Presence(roomOfTen);
    for (int i = 0; i < 10; i++) p.apply("c" + i, Presence.decode(update(state(100 + i, 1)), roomOfTen));
    p.flush();
    Entry[] echo = new Entry[10];
    for (int i = 0; i < 10; i++) echo[i] = state(100 + i, 1);
    List<Entry> entries = Presence.decode(update(echo), roomOfTen); // ten ids: more than one connection may control
    p.apply("c0", entries); // its own id unchanged, nine others' skipped
    assertEquals(null, p.flush());
    assertEquals(9, p.skippedForeign());
    assertEquals(1, p.idsOf("c0"));
  }

  @Test
  void aStateThatIsNotJsonIsRefusedWhenItWouldBeStoredNotWhenItIsAnEcho() {
    Presence p = new Presence(LIMITS);
    p.apply("a", Presence.decode(update(state(1, 1)), LIMITS));
    byte[] bad = rawState(1, 5, "{\"unterminated");
    List<Entry> decoded = Presence.decode(bad, LIMITS); // decoding does not parse states
    p.apply("b", decoded); // an echo of a's id by b: skipped unparsed
    assertClose(1008, () -> p.apply("a", decoded)); // a's own id: it would be stored, so it must be JSON
    assertEquals("{\"n\":1}", new String(java.util.Arrays.copyOfRange(p.encodeAll(), 4, p.encodeAll().length),
        java.nio.charset.StandardCharsets.UTF_8).trim()); // nothing changed
  }

  @Test
  void decodingRefusesMoreEntriesThanARoomCanHoldFromTheHeader() {
    Limits small = new Limits(4, 1024, 40);
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(41);
    assertClose(1008, () -> Presence.decode(e.toByteArray(), small));
  }
}
