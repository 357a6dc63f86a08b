package dev.ripple.collab.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** YPartyKitProvider's chunked messages: markers parsed, chunks reassembled, limits and inconsistencies refused. */
class BatchAssemblerTest {
  static String marker(String json) {
    return BatchAssembler.SENTINEL + "#" + json;
  }

  static String start(String id, long size, long count) {
    return marker("{\"id\":\"" + id + "\",\"type\":\"start\",\"size\":" + size + ",\"count\":" + count + "}");
  }

  static String end(String id, long size, long count) {
    return marker("{\"id\":\"" + id + "\",\"type\":\"end\",\"size\":" + size + ",\"count\":" + count + "}");
  }

  static ProtocolException refused(BatchAssembler batch, String text) {
    return assertThrows(ProtocolException.class, () -> batch.onText(text));
  }

  /** Bytes the calling thread allocates while refusing {@code text}: a marker that is parsed whole costs many times its size. */
  static long allocatedRefusing(String text, int expectedCode) {
    com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    BatchAssembler batch = new BatchAssembler(32 << 20, 4096);
    long before = threads.getCurrentThreadAllocatedBytes();
    ProtocolException e = refused(batch, text);
    long allocated = threads.getCurrentThreadAllocatedBytes() - before;
    assertEquals(expectedCode, e.closeCode(), e.getMessage());
    return allocated;
  }

  /** {@code y-pk-batch#[{},{},...]} of about {@code chars} characters: what took the heap to 2 GB on three connections. */
  static String arrayOfEmptyObjects(int chars) {
    StringBuilder b = new StringBuilder(chars + 16).append(BatchAssembler.SENTINEL).append("#[");
    while (b.length() < chars) b.append("{},");
    return b.append("{}]").toString();
  }

  @Test
  void chunksBetweenStartAndEndAreReassembledIntoOneMessage() {
    BatchAssembler batch = new BatchAssembler(1024, 10);
    assertNull(batch.onText(start("b1", 5, 2)));
    assertTrue(batch.inBatch());
    assertNull(batch.onBinary(new byte[] {1, 2, 3}));
    assertNull(batch.onBinary(new byte[] {4, 5}));
    assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, batch.onText(end("b1", 5, 2)));
    assertFalse(batch.inBatch());
  }

  @Test
  void markersParseWhateverTheOrderOfTheirFields() {
    BatchAssembler batch = new BatchAssembler(1024, 10);
    assertNull(batch.onText(marker("{\"count\":1,\"size\":1,\"type\":\"start\",\"id\":\"x\"}")));
    batch.onBinary(new byte[] {9});
    assertArrayEquals(new byte[] {9}, batch.onText(marker("{\"size\":1,\"id\":\"x\",\"count\":1,\"type\":\"end\"}")));
  }

  @Test
  void consecutiveBatchesEachParseTheirOwnMarkers() {
    BatchAssembler batch = new BatchAssembler(1024, 10);
    for (int i = 0; i < 100; i++) {
      batch.onText(start("b" + i, 1, 1));
      batch.onBinary(new byte[] {(byte) i});
      assertArrayEquals(new byte[] {(byte) i}, batch.onText(end("b" + i, 1, 1)));
    }
  }

  @Test
  void markersOfManyConnectionsParseAtTheSameTime() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Boolean>> runs = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int thread = t;
        runs.add(pool.submit(() -> {
          BatchAssembler batch = new BatchAssembler(1024, 10);
          for (int i = 0; i < 2000; i++) {
            String id = thread + "-" + i;
            batch.onText(start(id, 2, 1));
            batch.onBinary(new byte[] {(byte) thread, (byte) i});
            if (batch.onText(end(id, 2, 1))[0] != thread) return false;
          }
          return true;
        }));
      }
      for (Future<Boolean> run : runs) assertTrue(run.get(30, TimeUnit.SECONDS));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void binaryOutsideABatchIsAWholeMessage() {
    assertArrayEquals(new byte[] {7}, new BatchAssembler(1024, 10).onBinary(new byte[] {7}));
  }

  @Test
  void textThatIsNoMarkerIsIgnored() {
    BatchAssembler batch = new BatchAssembler(1024, 10);
    assertNull(batch.onText("hello"));
    assertNull(batch.onText("{\"type\":\"start\"}"));
    assertFalse(batch.inBatch());
  }

  @Test
  void aMarkerWithoutDataOrWithoutJsonObjectIsInvalidPayload() {
    BatchAssembler batch = new BatchAssembler(1024, 10);
    assertEquals(CloseCodes.INVALID_PAYLOAD, refused(batch, BatchAssembler.SENTINEL).closeCode());
    assertEquals("batch marker without data", refused(batch, BatchAssembler.SENTINEL).getMessage());
    for (String json : List.of("", "[]", "42", "\"start\"", "null")) {
      ProtocolException e = refused(batch, marker(json));
      assertEquals(CloseCodes.INVALID_PAYLOAD, e.closeCode(), json);
      assertEquals("batch marker is not a JSON object", e.getMessage(), json);
    }
  }

  @Test
  void aMarkerThatIsNotJsonIsInvalidPayload() {
    ProtocolException e = refused(new BatchAssembler(1024, 10), marker("{\"type\":"));
    assertEquals(CloseCodes.INVALID_PAYLOAD, e.closeCode());
    assertTrue(e.getMessage().startsWith("batch marker is not JSON: "), e.getMessage());
  }

  @Test
  void aMarkerLongerThanItsBoundIsInvalidPayloadAndIsNotParsed() {
    String hostile = arrayOfEmptyObjects(30_000_000); // 10 million {} in one text frame
    ProtocolException e = refused(new BatchAssembler(32 << 20, 4096), hostile);
    assertEquals(CloseCodes.INVALID_PAYLOAD, e.closeCode());
    assertEquals("batch marker of " + hostile.length() + " characters; a marker has at most " + BatchAssembler.MAX_MARKER_CHARS,
        e.getMessage());
    // refused from its length: not copied, not tokenized (parsed whole, it allocated about 700 MB)
    long allocated = allocatedRefusing(hostile, CloseCodes.INVALID_PAYLOAD);
    assertTrue(allocated < 64 * 1024, "refusing a 30 MB marker allocated " + allocated + " bytes");
  }

  @Test
  void aMarkerOfExactlyItsBoundIsReadAndOneCharacterMoreIsNot() {
    String id = "i".repeat(BatchAssembler.MAX_MARKER_CHARS - start("", 1, 1).length());
    String exactly = start(id, 1, 1);
    assertEquals(BatchAssembler.MAX_MARKER_CHARS, exactly.length());
    BatchAssembler batch = new BatchAssembler(1024, 10);
    assertNull(batch.onText(exactly));
    assertTrue(batch.inBatch());
    assertEquals(CloseCodes.INVALID_PAYLOAD, refused(new BatchAssembler(1024, 10), start(id + "i", 1, 1)).closeCode());
  }

  @Test
  void anArrayOfManyObjectsWithinTheBoundIsRefusedAtItsFirstToken() {
    String within = arrayOfEmptyObjects(BatchAssembler.MAX_MARKER_CHARS - 4);
    ProtocolException e = refused(new BatchAssembler(1024, 10), within);
    assertEquals(CloseCodes.INVALID_PAYLOAD, e.closeCode());
    assertEquals("batch marker is not a JSON object", e.getMessage());
    long allocated = allocatedRefusing(within, CloseCodes.INVALID_PAYLOAD);
    assertTrue(allocated < 32 * 1024, "refusing a 4 KiB array allocated " + allocated + " bytes");
  }

  @Test
  void aNestedValueInAMarkerIsRefusedAtItsFirstToken() {
    String deep = marker("{\"id\":" + "[".repeat(2000) + "]".repeat(2000) + ",\"type\":\"start\",\"size\":1,\"count\":1}");
    assertTrue(deep.length() < BatchAssembler.MAX_MARKER_CHARS);
    ProtocolException e = refused(new BatchAssembler(1024, 10), deep);
    assertEquals(CloseCodes.INVALID_PAYLOAD, e.closeCode());
    assertEquals("batch marker field id must be a string, not an array", e.getMessage());
    assertEquals("batch marker field size must be an integer, not an object",
        refused(new BatchAssembler(1024, 10), marker("{\"type\":\"start\",\"size\":{\"a\":{\"b\":{}}}}")).getMessage());
    long allocated = allocatedRefusing(deep, CloseCodes.INVALID_PAYLOAD);
    assertTrue(allocated < 32 * 1024, "refusing a nested marker allocated " + allocated + " bytes");
  }

  @Test
  void aMarkerWithWrongTokensIsInvalidPayloadWithAReason() {
    Map<String, String> reasons = new java.util.LinkedHashMap<>();
    reasons.put("{\"id\":\"x\",\"type\":\"start\",\"size\":1,\"count\":1,\"extra\":1}", "unexpected batch marker field extra");
    reasons.put("{\"id\":\"x\",\"id\":\"y\",\"type\":\"start\",\"size\":1,\"count\":1}", "batch marker field id appears twice");
    reasons.put("{\"id\":\"x\",\"type\":\"start\",\"size\":\"12\",\"count\":1}", "batch marker field size must be an integer, not a string");
    reasons.put("{\"id\":\"x\",\"type\":\"start\",\"size\":2.5,\"count\":1}", "batch marker field size must be an integer, not a number");
    reasons.put("{\"id\":\"x\",\"type\":\"start\",\"size\":1,\"count\":true}", "batch marker field count must be an integer, not a boolean");
    reasons.put("{\"id\":\"x\",\"type\":\"start\",\"size\":99999999999999999999,\"count\":1}", "batch marker field size is out of range");
    reasons.put("{\"id\":7,\"type\":\"start\",\"size\":1,\"count\":1}", "batch marker field id must be a string, not a number");
    reasons.put("{\"id\":null,\"type\":\"start\",\"size\":1,\"count\":1}", "batch marker field id must be a string, not null");
    reasons.put("{\"id\":\"x\",\"type\":[\"start\"],\"size\":1,\"count\":1}", "batch marker field type must be a string, not an array");
    reasons.put("{\"id\":\"x\",\"type\":\"start\",\"size\":1,\"count\":1} {}", "batch marker has more after its object");
    reasons.put("{\"id\":\"x\",\"size\":1,\"count\":1}", "batch marker without type");
    reasons.put("{\"id\":\"x\",\"type\":\"start\",\"count\":1}", "batch marker without size");
    reasons.put("{\"id\":\"x\",\"type\":\"start\",\"size\":1}", "batch marker without count");
    reasons.put("{\"type\":\"start\",\"size\":1,\"count\":1}", "batch marker without id");
    reasons.forEach((json, reason) -> {
      ProtocolException e = refused(new BatchAssembler(1024, 10), marker(json));
      assertEquals(CloseCodes.INVALID_PAYLOAD, e.closeCode(), json);
      assertEquals(reason, e.getMessage(), json);
    });
    // a field name is client text too: escaped in the reason
    assertEquals("unexpected batch marker field a\\nINFO forged",
        refused(new BatchAssembler(1024, 10), marker("{\"a\\nINFO forged\":1}")).getMessage());
  }

  @Test
  void aMarkerOfAnotherTypeIsInvalidPayload() {
    ProtocolException e = refused(new BatchAssembler(1024, 10), marker("{\"id\":\"x\",\"type\":\"middle\"}"));
    assertEquals(CloseCodes.INVALID_PAYLOAD, e.closeCode());
    assertEquals("unexpected batch marker type middle", e.getMessage());
  }

  @Test
  void aBatchOverTheSizeOrChunkLimitIsTooBig() {
    assertEquals(CloseCodes.TOO_BIG, refused(new BatchAssembler(10, 10), start("x", 11, 1)).closeCode());
    assertEquals(CloseCodes.TOO_BIG, refused(new BatchAssembler(10, 10), start("x", 5, 11)).closeCode());
    assertEquals(CloseCodes.TOO_BIG, refused(new BatchAssembler(10, 10), start("x", -1, 1)).closeCode());
  }

  @Test
  void moreChunksOrBytesThanAnnouncedAreTooBig() {
    BatchAssembler batch = new BatchAssembler(1024, 10);
    batch.onText(start("x", 2, 1));
    batch.onBinary(new byte[] {1});
    assertEquals(CloseCodes.TOO_BIG, assertThrows(ProtocolException.class, () -> batch.onBinary(new byte[] {2})).closeCode());
    BatchAssembler bytes = new BatchAssembler(1024, 10);
    bytes.onText(start("y", 2, 2));
    assertEquals(CloseCodes.TOO_BIG, assertThrows(ProtocolException.class, () -> bytes.onBinary(new byte[] {1, 2, 3})).closeCode());
  }

  @Test
  void anEndWithoutStartOrNotMatchingItsStartIsInvalidPayload() {
    assertEquals("batch end without start", refused(new BatchAssembler(1024, 10), end("x", 1, 1)).getMessage());
    BatchAssembler batch = new BatchAssembler(1024, 10);
    batch.onText(start("x", 1, 1));
    batch.onBinary(new byte[] {1});
    assertEquals("batch end does not match its start", refused(batch, end("other", 1, 1)).getMessage());
    assertFalse(batch.inBatch()); // a refused end ends the batch
  }

  @Test
  void anEndBeforeEveryAnnouncedChunkIsInvalidPayload() {
    BatchAssembler batch = new BatchAssembler(1024, 10);
    batch.onText(start("x", 2, 2));
    batch.onBinary(new byte[] {1});
    ProtocolException e = refused(batch, end("x", 2, 2));
    assertEquals(CloseCodes.INVALID_PAYLOAD, e.closeCode());
    assertEquals("batch received 1 chunks / 1 bytes, announced 2 / 2", e.getMessage());
  }

  @Test
  void batchesOfSeveralConnectionsShareTheNodesBudgetAndGiveItBack() {
    InboundBudget budget = new InboundBudget(10);
    BatchAssembler first = new BatchAssembler(1000, 10, budget);
    BatchAssembler second = new BatchAssembler(1000, 10, budget);
    first.onText(start("a", 8, 2));
    first.onBinary(new byte[4]);
    first.onBinary(new byte[4]); // 8 of 10 held
    second.onText(start("b", 5, 1));
    ProtocolException busy = org.junit.jupiter.api.Assertions.assertThrows(ProtocolException.class, () -> second.onBinary(new byte[5]));
    assertEquals(CloseCodes.TRY_AGAIN_LATER, busy.closeCode());
    assertEquals(8, budget.used());
    assertEquals(8, first.onText(end("a", 8, 2)).length);
    assertEquals(0, budget.used(), "a finished batch kept its bytes");
    second.onText(start("c", 5, 1));
    second.onBinary(new byte[5]);
    second.release(); // the connection ended in the middle of its batch
    assertEquals(0, budget.used());
  }
}
