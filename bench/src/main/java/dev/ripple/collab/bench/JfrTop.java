package dev.ripple.collab.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Summarises a JFR recording (as JMH's {@code -prof jfr} writes): the hottest methods by CPU samples
 * (self and inclusive, only frames of {@code dev.ripple} and the JDK collections below them), and
 * allocation by class and by allocating method. See profile.sh.
 *
 * <pre>java -cp target/benchmarks.jar dev.ripple.collab.bench.JfrTop profile.jfr [rows]</pre>
 */
public final class JfrTop {
  private JfrTop() {}

  public static void main(String[] args) throws IOException {
    int rows = args.length > 1 ? Integer.parseInt(args[1]) : 15;
    Map<String, Long> cpuSelf = new HashMap<>();
    Map<String, Long> cpuIncl = new HashMap<>();
    Map<String, Long> allocClass = new HashMap<>();
    Map<String, Long> allocSite = new HashMap<>();
    long cpu = 0;
    long alloc = 0;
    for (RecordedEvent e : RecordingFile.readAllEvents(Path.of(args[0]))) {
      String type = e.getEventType().getName();
      RecordedStackTrace st = e.getStackTrace();
      if (st == null) continue;
      List<RecordedFrame> frames = st.getFrames();
      if (type.equals("jdk.ExecutionSample")) {
        if (!inBenchmark(frames)) continue;
        cpu++;
        if (!frames.isEmpty()) cpuSelf.merge(name(frames.get(0)), 1L, Long::sum);
        Set<String> seen = new HashSet<>();
        for (RecordedFrame f : frames) {
          String n = name(f);
          if (seen.add(n)) cpuIncl.merge(n, 1L, Long::sum);
        }
      } else if (type.equals("jdk.ObjectAllocationSample")) {
        if (!inBenchmark(frames)) continue;
        long w = e.getLong("weight");
        alloc += w;
        allocClass.merge(e.getClass("objectClass").getName(), w, Long::sum);
        // the first frame of our own code: who asked for the memory
        for (RecordedFrame f : frames) {
          String n = name(f);
          if (n.startsWith("dev.ripple.collab.yjs.")) {
            allocSite.merge(n + ":" + f.getLineNumber(), w, Long::sum);
            break;
          }
        }
      }
    }
    print("CPU samples, self (top frame)", cpuSelf, cpu, rows);
    print("CPU samples, inclusive (engine methods)", filter(cpuIncl, "dev.ripple.collab.yjs."), cpu, rows);
    print("allocation by class (sampled weight)", allocClass, alloc, rows);
    print("allocation by engine call site", allocSite, alloc, rows);
  }

  private static boolean inBenchmark(List<RecordedFrame> frames) {
    for (RecordedFrame f : frames) {
      if (f.getMethod().getType().getName().startsWith("dev.ripple.collab.")) return true;
    }
    return false;
  }

  private static String name(RecordedFrame f) {
    String t = f.getMethod().getType().getName();
    return t + "." + f.getMethod().getName();
  }

  private static Map<String, Long> filter(Map<String, Long> m, String prefix) {
    Map<String, Long> r = new HashMap<>();
    m.forEach((k, v) -> {
      if (k.startsWith(prefix)) r.put(k, v);
    });
    return r;
  }

  private static void print(String title, Map<String, Long> m, long total, int rows) {
    System.out.printf(Locale.ROOT, "%n%s (total %,d)%n", title, total);
    if (total == 0) return;
    m.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(rows)
        .forEach(e -> System.out.printf(Locale.ROOT, "  %5.1f%%  %s%n", 100.0 * e.getValue() / total,
            e.getKey().replace("dev.ripple.collab.yjs.", "")));
  }
}
