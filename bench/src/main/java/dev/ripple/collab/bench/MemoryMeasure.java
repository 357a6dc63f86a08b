package dev.ripple.collab.bench;

import dev.ripple.collab.yjs.YDoc;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.openjdk.jol.info.GraphLayout;
import org.openjdk.jol.vm.VM;

/**
 * Retained heap of one document loaded from doc1mb.bin (and doc1mb-text.bin, and the document the
 * trace builds), against its encoded state size.
 *
 * <p>Primary number: JOL's {@code GraphLayout.parseInstance(doc).totalSize()}, the exact shallow
 * sizes of every object reachable from the YDoc, as this JVM lays them out. Cross-check: used heap
 * after {@code System.gc()} before and after holding several copies, divided by the count (a GC
 * heuristic, not an exact size). Writes out/java-memory.json and out/java-footprint-*.txt (the
 * class histograms).
 *
 * <pre>java -Djdk.attach.allowAttachSelf=true -cp target/benchmarks.jar dev.ripple.collab.bench.MemoryMeasure [copies]</pre>
 */
public final class MemoryMeasure {
  private MemoryMeasure() {}

  record Result(String name, long encoded, long jol, long objects, long heapDelta) {
    String json() {
      return String.format(Locale.ROOT,
          "    \"%s\": {\"encodedBytes\": %d, \"retainedBytesJol\": %d, \"objects\": %d, \"ratioJol\": %.3f,"
              + " \"heapDeltaBytes\": %d, \"ratioHeapDelta\": %.3f}",
          name, encoded, jol, objects, (double) jol / encoded, heapDelta, heapDelta < 0 ? 0 : (double) heapDelta / encoded);
    }
  }

  public static void main(String[] args) throws IOException {
    int copies = args.length > 0 ? Integer.parseInt(args[0]) : 8;
    System.out.println(VM.current().details());
    List<Result> results = new ArrayList<>();
    for (String file : List.of("doc1mb.bin", "doc1mb-text.bin")) {
      byte[] state = BenchData.read(file);
      YDoc doc = load(state);
      GraphLayout layout = GraphLayout.parseInstance(doc);
      String footprint = layout.toFootprint();
      Files.writeString(BenchData.dir().resolve("java-footprint-" + file.replace(".bin", ".txt")), footprint);
      System.out.println(file + ": " + footprint);
      long delta = heapDelta(state, copies);
      results.add(new Result(file, state.length, layout.totalSize(), layout.totalCount(), delta));
    }
    YDoc traced = ApplyBenchmark.applyAll(BenchData.trace());
    GraphLayout traceLayout = GraphLayout.parseInstance(traced);
    results.add(new Result("trace", traced.encodeStateAsUpdate().length, traceLayout.totalSize(), traceLayout.totalCount(), -1));

    for (Result r : results) {
      System.out.printf(Locale.ROOT, "%-16s encoded %,10d B; retained (JOL) %,10d B in %,8d objects = %5.2fx encoded;"
          + "%s%n", r.name, r.encoded, r.jol, r.objects, (double) r.jol / r.encoded,
          r.heapDelta < 0 ? "" : String.format(Locale.ROOT, " used-heap delta per doc %,10d B", r.heapDelta));
    }
    StringBuilder json = new StringBuilder();
    json.append("{\n  \"vm\": \"").append(ManagementFactory.getRuntimeMXBean().getVmName()).append(' ')
        .append(System.getProperty("java.version")).append("\",\n  \"copies\": ").append(copies).append(",\n  \"docs\": {\n");
    for (int i = 0; i < results.size(); i++) {
      json.append(results.get(i).json()).append(i + 1 < results.size() ? ",\n" : "\n");
    }
    json.append("  }\n}\n");
    Files.writeString(BenchData.dir().resolve("java-memory.json"), json);
  }

  static YDoc load(byte[] state) {
    YDoc doc = new YDoc();
    doc.apply(state);
    return doc;
  }

  /** Used heap after GC with {@code copies} documents held, minus before, per document. */
  static long heapDelta(byte[] state, int copies) {
    YDoc[] held = new YDoc[copies];
    long before = usedAfterGc();
    for (int i = 0; i < copies; i++) held[i] = load(state);
    long after = usedAfterGc();
    long perDoc = (after - before) / copies;
    for (YDoc d : held) {
      if (d.stateVector().length == 0) System.out.println("unreachable"); // keeps them alive until here
    }
    return perDoc;
  }

  static long usedAfterGc() {
    Runtime rt = Runtime.getRuntime();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      used = Math.min(used, rt.totalMemory() - rt.freeMemory());
    }
    return used;
  }
}
