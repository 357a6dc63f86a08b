package dev.ripple.collab.yjs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Committed traces made by the real yjs (conformance/yjs/gen.mjs, fixed seeds): the Java engine must
 * produce exactly yjs's bytes for every state vector, full state, diff, merge and pending state.
 * Runs without Node; the live run with fresh seeds is {@link LiveDifferentialTest}.
 */
class GoldenConformanceTest {
  static final Path DIR = Path.of("src/test/resources/conformance");

  static Stream<Path> traces() throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.list(DIR)) {
      files = s.filter(p -> p.getFileName().toString().endsWith(".json.gz")).sorted().toList();
    }
    assertFalse(files.isEmpty(), "no golden traces in " + DIR);
    return files.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("traces")
  void javaEngineReproducesYjsBytesAtEveryStep(Path file) throws IOException {
    JsonNode trace;
    try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
      trace = TraceReplay.JSON.readTree(in);
    }
    TraceReplay r = TraceReplay.run(trace);
    assertTrue(r.steps > 50, "trace too short: " + r.steps);
    assertTrue(r.stateCompared > 5, "trace compares too few full states: " + r.stateCompared);
    assertEquals(List.of(), r.mismatches.stream().limit(20).map(Object::toString).toList(),
        r.mismatches.size() + " differences from yjs in " + file);
  }
}
