package dev.ripple.collab.yjs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ripple.collab.testkit.NodeProcess;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link DocJson} against the real yjs: traces made by conformance/yjs/gen.mjs (fresh random seeds, and
 * the committed golden traces) are replayed by the Java engine; at a few steps every root (and two
 * missing names) is rendered as each kind and compared, as exact text, with what
 * conformance/yjs/docjson.mjs gets from yjs ({@code getText(name).toString()}, {@code getMap(name).toJSON()},
 * ... through {@code JSON.stringify}, bigints as strings). Reading a root with another kind than
 * its clients use is compared too: a text read as an array or an XML fragment, a map read as a text.
 *
 * <p>Sizes: {@code -Dripple.docjson.seeds=3 -Dripple.docjson.steps=300 -Dripple.docjson.checkpoints=10}; a failing seed is printed
 * and can be replayed with {@code -Dripple.docjson.seed=N}.
 */
class DocJsonDifferentialTest {
  static final Path WORK = NodeProcess.WORK;

  @BeforeAll
  static void installYjs() throws Exception {
    NodeProcess.ensureInstalled();
  }

  @Test
  void rendersAsYjsOnFreshRandomTraces() throws Exception {
    int seeds = Integer.getInteger("ripple.docjson.seeds", 3);
    int steps = Integer.getInteger("ripple.docjson.steps", 300);
    Long fixed = Long.getLong("ripple.docjson.seed");
    long base = fixed != null ? fixed : (System.currentTimeMillis() % 1_000_000_000L);
    for (int i = 0; i < seeds; i++) {
      long seed = base + i;
      boolean gc = i % 2 == 0;
      Path trace = WORK.resolve("docjson-trace-" + seed + ".json").toAbsolutePath();
      System.out.println("DocJson differential: seed " + seed + " gc=" + gc + " steps=" + steps);
      NodeProcess.run(NodeProcess.CONFORMANCE, List.of("node", "yjs/gen.mjs", "--seed", Long.toString(seed),
          "--steps", Integer.toString(steps), "--gc", Boolean.toString(gc), "--state-every", "1000000",
          "--probe-every", "1000000", "--quiet", "--out", trace.toString()), WORK.resolve("docjson-gen-" + seed + ".log"), 600);
      Result r = compare(trace, "seed " + seed);
      assertEquals(List.of(), r.failures, "seed " + seed + ": DocJson differs from yjs (trace kept at " + trace + ")");
      Files.deleteIfExists(trace); // keep only failing traces around
    }
  }

  static Stream<Path> goldenTraces() throws IOException {
    return GoldenConformanceTest.traces();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("goldenTraces")
  void rendersAsYjsOnGoldenTraces(Path file) throws Exception {
    Result r = compare(file.toAbsolutePath(), file.getFileName().toString());
    assertEquals(List.of(), r.failures, file + ": DocJson differs from yjs");
  }

  record Result(List<String> failures, int renders) {}

  /** Renders at evenly spaced checkpoints (the last step among them) in Java and in yjs, and compares them. */
  static Result compare(Path trace, String label) throws Exception {
    JsonNode t;
    try (InputStream in = trace.toString().endsWith(".gz") ? new GZIPInputStream(Files.newInputStream(trace)) : Files.newInputStream(trace)) {
      t = TraceReplay.JSON.readTree(in);
    }
    JsonNode steps = t.get("steps");
    int n = steps.size();
    int k = Integer.getInteger("ripple.docjson.checkpoints", 10);
    TreeSet<Integer> at = new TreeSet<>();
    for (int c = 1; c <= k; c++) at.add(Math.max(0, c * n / k - 1));
    Path ref = WORK.resolve("docjson-ref-" + trace.getFileName() + ".json").toAbsolutePath();
    NodeProcess.run(NodeProcess.CONFORMANCE, List.of("node", "yjs/docjson.mjs", trace.toString(), "--at",
        String.join(",", at.stream().map(String::valueOf).toList()), "--out", ref.toString()),
        WORK.resolve("docjson-ref-" + trace.getFileName() + ".log"), 300);
    Iterator<JsonNode> checkpoints = TraceReplay.JSON.readTree(ref.toFile()).get("checkpoints").elements();

    YDoc doc = new YDoc(new YDoc.Options(t.path("gc").asBoolean(true), 64L << 20));
    List<String> failures = new ArrayList<>();
    int renders = 0;
    int threw = 0;
    for (int i = 0; i < n; i++) {
      doc.apply(Base64.getDecoder().decode(steps.get(i).get("update").asText()));
      if (!at.contains(i)) continue;
      JsonNode cp = checkpoints.next();
      assertEquals(i, cp.get("step").asInt());
      Map<String, List<String>> request = new LinkedHashMap<>();
      cp.get("request").fields().forEachRemaining(e -> {
        List<String> names = new ArrayList<>();
        e.getValue().forEach(x -> names.add(x.asText()));
        request.put(e.getKey(), names);
      });
      String expected = cp.get("json").asText();
      String actual = DocJson.render(doc, request);
      if (!expected.equals(actual)) {
        boolean sameTree = TraceReplay.JSON.readTree(expected).equals(TraceReplay.JSON.readTree(actual));
        failures.add("step " + i + (sameTree ? " (same JSON value, different text)" : "") + ": " + describeDiff(expected, actual));
      }
      // the per-kind methods agree with render
      JsonNode all = TraceReplay.JSON.readTree(actual);
      for (Map.Entry<String, List<String>> e : request.entrySet()) {
        DocJson.Kind kind = DocJson.Kind.fromParameter(e.getKey());
        for (String name : e.getValue()) {
          renders++;
          JsonNode one = TraceReplay.JSON.readTree(DocJson.json(doc, kind, name));
          if (!one.equals(all.get(e.getKey()).get(name))) failures.add("step " + i + ": json(" + kind + ", " + name + ") differs from render");
          String plain = kind == DocJson.Kind.TEXT ? DocJson.text(doc, name) : kind == DocJson.Kind.XML ? DocJson.xml(doc, name) : null;
          if (plain != null && !plain.equals(one.asText())) failures.add("step " + i + ": " + kind + " string of " + name + " differs from its JSON");
        }
      }
      // where yjs throws (an XML fragment holding null), Java still renders
      for (Iterator<Map.Entry<String, JsonNode>> it = cp.get("threw").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        for (Iterator<String> names = e.getValue().fieldNames(); names.hasNext(); ) {
          DocJson.json(doc, DocJson.Kind.fromParameter(e.getKey()), names.next());
          threw++;
        }
      }
    }
    assertTrue(renders >= at.size() * 4 * 5, "too few renders compared: " + renders);
    System.out.println("  " + label + ": " + at.size() + " checkpoints, " + renders + " root renders identical to yjs"
        + (threw > 0 ? ", " + threw + " where yjs throws" : "") + (failures.isEmpty() ? "" : ", " + failures.size() + " FAILURES"));
    if (failures.isEmpty()) Files.deleteIfExists(ref);
    return new Result(failures, renders);
  }

  static String describeDiff(String expected, String actual) {
    int i = 0;
    while (i < expected.length() && i < actual.length() && expected.charAt(i) == actual.charAt(i)) i++;
    int s = Math.max(0, i - 80);
    return "first difference at char " + i + ": yjs …" + expected.substring(s, Math.min(expected.length(), i + 80))
        + "… java …" + actual.substring(s, Math.min(actual.length(), i + 80)) + "… (lengths " + expected.length() + "/" + actual.length() + ")";
  }
}
