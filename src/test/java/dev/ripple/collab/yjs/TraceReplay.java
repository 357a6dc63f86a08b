package dev.ripple.collab.yjs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Replays a conformance trace (made by conformance/yjs/gen.mjs from the real yjs) through the Java
 * engine: applies each step's update to a {@link YDoc}, records the Java outputs in the format
 * conformance/yjs/check.mjs reads, and compares them byte for byte with the yjs outputs in the trace.
 */
final class TraceReplay {
  static final ObjectMapper JSON = new ObjectMapper();

  /** A difference between Java and yjs at one step. */
  record Mismatch(String where, String what) {
    @Override public String toString() {
      return where + ": " + what;
    }
  }

  final ObjectNode out = JSON.createObjectNode();
  final List<Mismatch> mismatches = new ArrayList<>();
  int steps;
  int stateCompared;
  int merges;

  static TraceReplay run(Path trace) throws IOException {
    return run(JSON.readTree(trace.toFile()));
  }

  static TraceReplay run(JsonNode trace) {
    TraceReplay r = new TraceReplay();
    r.replay(trace);
    return r;
  }

  private static byte[] b64(JsonNode n) {
    return Base64.getDecoder().decode(n.asText());
  }

  private static String b64(byte[] b) {
    return Base64.getEncoder().encodeToString(b);
  }

  private void replay(JsonNode trace) {
    boolean gc = trace.path("gc").asBoolean(true);
    YDoc doc = new YDoc(new YDoc.Options(gc, 64L * 1024 * 1024));
    ArrayNode outSteps = out.putArray("steps");
    int i = 0;
    for (JsonNode step : trace.get("steps")) {
      String where = "step " + i;
      doc.apply(b64(step.get("update")));
      ObjectNode o = outSteps.addObject();
      byte[] sv = doc.stateVector();
      o.put("sv", b64(sv));
      compare(where, "sv", step.get("sv"), sv);
      if (step.has("state")) {
        byte[] state = doc.encodeStateAsUpdate();
        o.put("state", b64(state));
        compare(where, "state", step.get("state"), state);
        stateCompared++;
      }
      if (step.has("probeSv")) {
        byte[] diff = doc.encodeStateAsUpdate(b64(step.get("probeSv")));
        o.put("probeDiff", b64(diff));
        compare(where, "probeDiff", step.get("probeDiff"), diff);
      }
      ObjectNode pending = o.putObject("pending");
      Map<Long, Long> missing = doc.pendingMissing();
      if (missing == null) {
        pending.putNull("structs");
      } else {
        ObjectNode m = pending.putObject("structs");
        new TreeMap<>(missing).forEach((c, k) -> m.put(Long.toString(c), k));
      }
      pending.put("ds", doc.hasPendingDeletes());
      if (step.has("pending") && !samePending(step.get("pending"), pending)) {
        mismatches.add(new Mismatch(where, "pending " + pending + " but yjs has " + step.get("pending")));
      }
      i++;
    }
    steps = i;
    ArrayNode outMerges = out.putArray("merges");
    int m = 0;
    for (JsonNode merge : trace.path("merges")) {
      String where = "merge " + m++;
      List<byte[]> updates = new ArrayList<>();
      for (Iterator<JsonNode> it = merge.get("updates").elements(); it.hasNext(); ) updates.add(b64(it.next()));
      byte[] merged = Updates.mergeUpdates(updates);
      byte[] diff = Updates.diffUpdate(merged, b64(merge.get("probeSv")));
      byte[] sv = Updates.encodeStateVectorFromUpdate(merged);
      ObjectNode o = outMerges.addObject();
      o.put("merged", b64(merged));
      o.put("diff", b64(diff));
      o.put("svFromUpdate", b64(sv));
      compare(where, "merged", merge.get("merged"), merged);
      compare(where, "diff", merge.get("diff"), diff);
      compare(where, "svFromUpdate", merge.get("svFromUpdate"), sv);
    }
    merges = m;
  }

  /** Pending state equality: same missing clock per client (order and number width aside), same delete flag. */
  static boolean samePending(JsonNode a, JsonNode b) {
    return java.util.Objects.equals(pendingStructs(a), pendingStructs(b)) && a.path("ds").asBoolean() == b.path("ds").asBoolean();
  }

  private static Map<Long, Long> pendingStructs(JsonNode p) {
    JsonNode s = p.get("structs");
    if (s == null || s.isNull()) return null;
    Map<Long, Long> m = new TreeMap<>();
    s.fields().forEachRemaining(e -> m.put(Long.parseLong(e.getKey()), e.getValue().asLong()));
    return m;
  }

  private void compare(String where, String what, JsonNode expected, byte[] actual) {
    if (expected == null) return;
    byte[] e = b64(expected);
    if (!Arrays.equals(e, actual)) {
      mismatches.add(new Mismatch(where, what + " differs from yjs (" + actual.length + " bytes vs " + e.length + ")"));
    }
  }
}
