package dev.ripple.collab.bench;

import dev.ripple.collab.yjs.YDoc;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Applies every update of trace.bin, in server arrival order, into a fresh {@link YDoc}: one
 * benchmark operation is the whole trace (the same work as a yjs-bench.mjs apply round). Divide by
 * the update count (trace-meta.json; report.mjs does it) for the time per update.
 *
 * <p>With {@code -p base=base-clients.bin} (make-trace.mjs --base-clients N) each fresh document
 * first gets that state, outside the measured time, and the trace goes on top of it.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1)
public class ApplyBenchmark {
  /** A state file in bench/out to start from, or empty for an empty document. */
  @Param({""})
  public String base;

  byte[][] updates;
  byte[] baseState;
  YDoc doc;

  @Setup(Level.Trial)
  public void load() {
    updates = BenchData.trace();
    baseState = base.isEmpty() ? null : BenchData.read(base);
    if (baseState == null) {
      // the engine must end where yjs ends, or the comparison measures different work
      YDoc check = applyAll(updates);
      byte[] expected = BenchData.read("trace-state.bin");
      byte[] actual = check.encodeStateAsUpdate();
      if (!Arrays.equals(expected, actual)) {
        throw new IllegalStateException("after the trace the engine's state (" + actual.length
            + " B) differs from yjs's (" + expected.length + " B)");
      }
      System.out.println("\n[apply] " + updates.length + " updates; final state matches yjs byte for byte ("
          + actual.length + " B)");
    } else {
      System.out.println("\n[apply] " + updates.length + " updates on top of " + base + " (" + baseState.length + " B)");
    }
  }

  /** A fresh document for each operation (an operation takes ~100 ms: the setup's overhead does not matter). */
  @Setup(Level.Invocation)
  public void freshDoc() {
    doc = new YDoc();
    if (baseState != null) doc.apply(baseState);
  }

  static YDoc applyAll(byte[][] updates) {
    YDoc doc = new YDoc();
    for (byte[] u : updates) doc.apply(u);
    return doc;
  }

  @Benchmark
  public YDoc applyTrace() {
    YDoc d = doc;
    for (byte[] u : updates) d.apply(u);
    return d;
  }
}
