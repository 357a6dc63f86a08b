package dev.ripple.collab.yjs;

import java.nio.file.Path;

/** Developer entry point: replays one trace file and prints the mismatches. */
final class TraceQuick {
  public static void main(String[] args) throws Exception {
    TraceReplay r = TraceReplay.run(Path.of(args[0]));
    System.out.println("steps " + r.steps + ", merges " + r.merges + ", mismatches " + r.mismatches.size());
    r.mismatches.stream().limit(30).forEach(System.out::println);
    if (args.length > 1) TraceReplay.JSON.writeValue(Path.of(args[1]).toFile(), r.out);
  }
}
