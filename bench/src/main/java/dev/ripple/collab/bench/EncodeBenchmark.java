package dev.ripple.collab.bench;

import dev.ripple.collab.yjs.YDoc;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Full-state encode ({@code encodeStateAsUpdate()}) of a document loaded from doc1mb.bin (the
 * realistic ~1 MB document, typed character by character) and, for contrast, doc1mb-text.bin (a
 * ~1 MB mostly-text document made of paragraph-sized inserts).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 5)
@Measurement(iterations = 5, time = 5)
@Fork(value = 1)
public class EncodeBenchmark {
  @Param({"doc1mb.bin", "doc1mb-text.bin"})
  public String file;

  YDoc doc;

  @Setup
  public void load() {
    byte[] state = BenchData.read(file);
    doc = new YDoc();
    doc.apply(state);
    byte[] again = doc.encodeStateAsUpdate();
    if (!Arrays.equals(state, again)) {
      throw new IllegalStateException("re-encoding " + file + " gives " + again.length + " B, not the " + state.length + " B read");
    }
    System.out.println("\n[encode] " + file + ": " + state.length + " B, re-encodes byte for byte");
  }

  @Benchmark
  public byte[] encodeStateAsUpdate() {
    return doc.encodeStateAsUpdate();
  }
}
