package dev.ripple.collab.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
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
}
