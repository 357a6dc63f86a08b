package dev.ripple.collab.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.ripple.collab.protocol.Presence.Entry;
import dev.ripple.collab.protocol.Presence.Limits;
import dev.ripple.collab.yjs.Lib0Decoder;
import dev.ripple.collab.yjs.Lib0Encoder;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * What a hostile or broken client can send to the decoders that run on session threads:
 * arbitrary bytes, valid messages with bit flips, truncations, huge varints and inflated lengths,
 * and batch markers whose sizes lie. Each decoder either succeeds or throws a
 * {@link ProtocolException} with a WebSocket close code (1000..1015), and never allocates in
 * proportion to a length the input merely claims (checked per call with the thread's allocation
 * counter: a fixed budget plus a small multiple of the bytes actually given).
 */
class ProtocolFuzzPropertiesTest {
  private static final int TRIES = 2000;
  private static final Limits LIMITS = new Limits(16, 4096);
  /** Covers the batch buffer's first 1 MiB and the parsers' per-call state; claims reach 2^53. */
  private static final long ALLOCATION_BUDGET = 2L << 20;
  private static final long ALLOCATION_PER_INPUT_BYTE = 64;
  private static final long BATCH_MAX_BYTES = 32L << 20;
  private static final int BATCH_MAX_CHUNKS = 1000;

  private static final com.sun.management.ThreadMXBean THREADS =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  @BeforeContainer
  static void loadTheDecoders() {
    // class loading and first-use linking allocate on this thread; they are not what is measured
    byte[] aw = update(List.of(new Entry(1, 1, "{\"a\":[1,\"b\"]}")));
    Presence.validate(aw, LIMITS);
    SyncProtocol.decode(SyncProtocol.awareness(aw));
    BatchAssembler b = new BatchAssembler(BATCH_MAX_BYTES, BATCH_MAX_CHUNKS);
    b.onText(marker("start", "\"w\"", "3", "1"));
    b.onBinary(new byte[3]);
    b.onText(marker("end", "\"w\"", "3", "1"));
    survives(0, () -> SyncProtocol.decode(new byte[] {0, 9}));
  }

  // ------------------------------------------------------------------ properties

  @Property(tries = TRIES)
  void syncDecodeOfArbitraryBytes(@ForAll @Size(max = 300) byte[] frame) {
    survives(frame.length, () -> SyncProtocol.decode(frame));
  }

  @Property(tries = TRIES)
  void syncDecodeOfMutatedFrames(@ForAll("frames") byte[] valid, @ForAll("mutations") List<Mutation> mutations) {
    byte[] frame = mutate(valid, mutations);
    survives(frame.length, () -> SyncProtocol.decode(frame));
  }

  @Property(tries = TRIES)
  void presenceValidateOfArbitraryBytes(@ForAll @Size(max = 300) byte[] update) {
    survives(update.length, () -> Presence.validate(update, LIMITS));
  }

  @Property(tries = TRIES)
  void presenceValidateOfMutatedUpdatesThenApplyAndFlush(@ForAll("awarenessUpdates") byte[] valid,
      @ForAll("mutations") List<Mutation> mutations) {
    byte[] update = mutate(valid, mutations);
    List<Entry> entries = survives(update.length, () -> Presence.validate(update, LIMITS));
    if (entries == null) return;
    // what validate lets through, the room can hold and relay, and the relay decodes again
    Presence presence = new Presence(LIMITS);
    survives(update.length, () -> {
      presence.apply("c", entries);
      return null;
    });
    byte[] flushed = presence.flush();
    if (flushed != null) Presence.validate(flushed, new Limits(Integer.MAX_VALUE, Integer.MAX_VALUE));
  }

  @Property(tries = TRIES)
  void batchAssemblerWithLyingMarkers(@ForAll("batchFrames") List<Frame> frames) {
    BatchAssembler assembler = new BatchAssembler(BATCH_MAX_BYTES, BATCH_MAX_CHUNKS);
    for (Frame f : frames) {
      Outcome<byte[]> out;
      if (f instanceof Text t) {
        out = attempt(2L * t.text().length(), () -> assembler.onText(t.text()));
      } else {
        byte[] chunk = new byte[((Binary) f).size()];
        out = attempt(chunk.length, () -> assembler.onBinary(chunk));
      }
      if (out.closed()) return; // the session closes the connection: nothing more is read
      // an assembled (or plain binary) message goes to the decoder next, as in a session
      if (out.value() != null) survives(out.value().length, () -> SyncProtocol.decode(out.value()));
    }
  }

  // ------------------------------------------------------------------ checks

  private record Outcome<T>(T value, boolean closed) {}

  /** Runs {@code call}: it returns, or throws a ProtocolException with a close code; within budget. */
  private static <T> T survives(long inputBytes, Supplier<T> call) {
    return attempt(inputBytes, call).value();
  }

  private static <T> Outcome<T> attempt(long inputBytes, Supplier<T> call) {
    long before = THREADS.getCurrentThreadAllocatedBytes();
    Outcome<T> outcome;
    try {
      outcome = new Outcome<>(call.get(), false);
    } catch (ProtocolException e) {
      assertTrue(e.closeCode() >= 1000 && e.closeCode() <= 1015, "close code " + e.closeCode() + ": " + e.getMessage());
      assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), "a close needs a reason");
      outcome = new Outcome<>(null, true);
    }
    long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
    long budget = ALLOCATION_BUDGET + ALLOCATION_PER_INPUT_BYTE * inputBytes;
    assertTrue(allocated <= budget, "allocated " + allocated + " bytes for " + inputBytes + " bytes of input");
    return outcome;
  }

  // ------------------------------------------------------------------ mutations

  /**
   * One change to a valid message. {@code at} picks a position (modulo the length), {@code value}
   * a bit, a byte or a varint: the varints reach 2^53 - 1, 2^63 - 1 and an overlong encoding.
   */
  record Mutation(Kind kind, int at, long value) {
    enum Kind { FLIP_BIT, TRUNCATE, INSERT_VARINT, REPLACE_BYTE_WITH_VARINT, APPEND_BYTE, DELETE_BYTE }
  }

  @Provide
  Arbitrary<List<Mutation>> mutations() {
    Arbitrary<Long> values = Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(3, Arbitraries.longs().between(0, 300)),
        net.jqwik.api.Tuple.of(3, Arbitraries.longs().between(16L << 20, Lib0Decoder.MAX_SAFE_INTEGER)),
        net.jqwik.api.Tuple.of(2, Arbitraries.of(Lib0Decoder.MAX_SAFE_INTEGER, Lib0Decoder.MAX_SAFE_INTEGER + 1,
            (long) Integer.MAX_VALUE, 1L << 32, Long.MAX_VALUE, -1L)));
    return Combinators.combine(Arbitraries.of(Mutation.Kind.class), Arbitraries.integers().greaterOrEqual(0), values)
        .as(Mutation::new).list().ofMinSize(1).ofMaxSize(4);
  }

  private static byte[] mutate(byte[] valid, List<Mutation> mutations) {
    byte[] b = valid;
    for (Mutation m : mutations) {
      int n = b.length;
      int at = m.at() % (n + 1);
      switch (m.kind()) {
        case FLIP_BIT -> {
          if (n > 0) {
            b = b.clone();
            b[m.at() % n] ^= (byte) (1 << (m.value() & 7));
          }
        }
        case TRUNCATE -> b = Arrays.copyOf(b, at);
        case INSERT_VARINT -> b = splice(b, at, at, varint(m.value()));
        case REPLACE_BYTE_WITH_VARINT -> b = splice(b, at, Math.min(n, at + 1), varint(m.value()));
        case APPEND_BYTE -> b = splice(b, n, n, new byte[] {(byte) m.value()});
        case DELETE_BYTE -> b = splice(b, at, Math.min(n, at + 1), new byte[0]);
      }
    }
    return b;
  }

  /** The varint of a non-negative value; -1 stands for an overlong one (eleven continuation bytes). */
  private static byte[] varint(long value) {
    if (value < 0) {
      byte[] overlong = new byte[12];
      Arrays.fill(overlong, (byte) 0xFF);
      overlong[11] = 1;
      return overlong;
    }
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(value);
    return e.toByteArray();
  }

  private static byte[] splice(byte[] b, int from, int to, byte[] insert) {
    byte[] out = new byte[b.length - (to - from) + insert.length];
    System.arraycopy(b, 0, out, 0, from);
    System.arraycopy(insert, 0, out, from, insert.length);
    System.arraycopy(b, to, out, from + insert.length, b.length - to);
    return out;
  }

  // ------------------------------------------------------------------ valid messages

  @Provide
  Arbitrary<byte[]> awarenessUpdates() {
    return entries().list().ofMaxSize(5).map(ProtocolFuzzPropertiesTest::update);
  }

  @Provide
  Arbitrary<byte[]> frames() {
    Arbitrary<byte[]> payloads = Arbitraries.bytes().array(byte[].class).ofMaxSize(64);
    return Arbitraries.oneOf(
        payloads.map(SyncProtocol::syncStep1),
        payloads.map(SyncProtocol::syncStep2),
        payloads.map(SyncProtocol::update),
        awarenessUpdates().map(SyncProtocol::awareness),
        Arbitraries.just(new byte[] {SyncProtocol.MESSAGE_QUERY_AWARENESS}),
        Arbitraries.strings().ofMaxLength(20).map(SyncProtocol::permissionDenied));
  }

  private static Arbitrary<Entry> entries() {
    Arbitrary<Long> ids = Arbitraries.oneOf(Arbitraries.longs().between(0, 0xFFFFFFFFL),
        Arbitraries.of(0L, Lib0Decoder.MAX_SAFE_INTEGER));
    Arbitrary<Long> clocks = Arbitraries.longs().between(0, Lib0Decoder.MAX_SAFE_INTEGER);
    Arbitrary<String> names = Arbitraries.strings().ofMaxLength(24);
    Arbitrary<String> states = Arbitraries.oneOf(
        Arbitraries.just((String) null),
        names.map(n -> "{\"user\":{\"name\":\"" + new String(JsonStringEncoder.getInstance().quoteAsString(n))
            + "\",\"color\":\"#30bced\"},\"cursor\":null}"),
        Arbitraries.of("{}", "[]", "0", "-1.5e3", "true", "\"x\"", "[[[[{\"a\":[]}]]]]", "{\"a\":{\"b\":{\"c\":[1,2,3]}}}"));
    return Combinators.combine(ids, clocks, states).as(Entry::new);
  }

  private static byte[] update(List<Entry> entries) {
    return Presence.encode(entries);
  }

  // ------------------------------------------------------------------ batches

  sealed interface Frame {}

  record Text(String text) implements Frame {}

  record Binary(int size) implements Frame {}

  private static String marker(String type, String id, String size, String count) {
    return BatchAssembler.SENTINEL + "#{\"id\":" + id + ",\"type\":\"" + type + "\",\"size\":" + size + ",\"count\":" + count + "}";
  }

  /** Numbers as JSON text, lying in every way: negative, past the limits, past long, not numbers. */
  private static Arbitrary<String> jsonNumbers() {
    return Arbitraries.oneOf(
        Arbitraries.longs().between(0, 4096).map(String::valueOf),
        Arbitraries.longs().map(String::valueOf),
        Arbitraries.of(String.valueOf(BATCH_MAX_BYTES), String.valueOf(BATCH_MAX_BYTES + 1), "9223372036854775807",
            "9223372036854775808", "99999999999999999999999", "1e30", "-0.5", "2.5", "\"12\"", "null", "true", "[1]", "{}"));
  }

  @Provide
  Arbitrary<List<Frame>> batchFrames() {
    Arbitrary<String> ids = Arbitraries.of("\"a\"", "\"b\"", "null", "1", "{}");
    Arbitrary<Frame> markers = Combinators.combine(Arbitraries.of("start", "end", "middle"), ids, jsonNumbers(), jsonNumbers())
        .as((type, id, size, count) -> new Text(marker(type, id, size, count)));
    Arbitrary<Frame> odd = Arbitraries.oneOf(
        Arbitraries.strings().ofMaxLength(40).map(s -> new Text(BatchAssembler.SENTINEL + "#" + s)),
        Arbitraries.strings().ofMaxLength(40).map(Text::new),
        Arbitraries.of(new Text(BatchAssembler.SENTINEL), new Text(BatchAssembler.SENTINEL + "#"),
            new Text(BatchAssembler.SENTINEL + "#[]"), new Text(BatchAssembler.SENTINEL + "#\"start\"")),
        Arbitraries.integers().between(1, 5000).map(depth -> new Text(BatchAssembler.SENTINEL + "#" + "[".repeat(depth))));
    Arbitrary<Frame> chunks = Arbitraries.integers().between(0, 300).map(Binary::new);
    Arbitrary<List<Frame>> noise = Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(3, markers), net.jqwik.api.Tuple.of(1, odd), net.jqwik.api.Tuple.of(3, chunks))
        .list().ofMaxSize(12);
    return Arbitraries.oneOf(noise, batches(), Combinators.combine(batches(), noise).as((a, b) -> {
      List<Frame> all = new ArrayList<>(a);
      all.addAll(b);
      return all;
    }));
  }

  /** A start marker, chunks and an end marker whose announced size and count may be off, by a little or a lot. */
  private static Arbitrary<List<Frame>> batches() {
    Arbitrary<List<Integer>> chunkSizes = Arbitraries.integers().between(0, 300).list().ofMaxSize(8);
    Arbitrary<Long> lies = Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(4, Arbitraries.just(0L)),
        net.jqwik.api.Tuple.of(2, Arbitraries.longs().between(-2, 2)),
        net.jqwik.api.Tuple.of(1, Arbitraries.longs().between(1L << 20, BATCH_MAX_BYTES)));
    return Combinators.combine(chunkSizes, lies, lies, Arbitraries.of(true, false)).as((sizes, sizeLie, countLie, endMatches) -> {
      long size = sizes.stream().mapToLong(Integer::longValue).sum() + sizeLie;
      long count = sizes.size() + countLie;
      List<Frame> frames = new ArrayList<>();
      frames.add(new Text(marker("start", "\"x\"", String.valueOf(size), String.valueOf(count))));
      sizes.forEach(s -> frames.add(new Binary(s)));
      frames.add(new Text(marker("end", endMatches ? "\"x\"" : "\"y\"", String.valueOf(size), String.valueOf(count))));
      return frames;
    });
  }

  // the mutations start from messages that really are valid
  @Property(tries = 200)
  void generatedAwarenessUpdatesAreValid(@ForAll("awarenessUpdates") byte[] valid) {
    List<Entry> entries = Presence.validate(valid, LIMITS);
    assertEquals(Arrays.hashCode(valid), Arrays.hashCode(update(entries)), "re-encoding gives the same bytes");
  }
}
