package dev.ripple.collab.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The server as a separate JVM on 127.0.0.1 (single mode, H2 in {@code data}), for tests that kill it. */
public final class ServerProcess {
  private ServerProcess() {}

  /** Starts {@code dev.ripple.collab.Main} with the test class path and waits until it listens; {@code env} adds COLLAB_* variables. */
  public static Process launch(int port, Path data, Path log, Map<String, String> env) throws Exception {
    return launch(port, data, log, env, java.util.List.of());
  }

  /** As {@link #launch(int, Path, Path, Map)}, with JVM options too (e.g. {@code -Dripple.alarms.debounce=300ms}). */
  public static Process launch(int port, Path data, Path log, Map<String, String> env, java.util.List<String> jvmOptions)
      throws Exception {
    Files.deleteIfExists(log);
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(javaBin, "-Xmx256m"));
    command.addAll(jvmOptions);
    command.addAll(java.util.List.of("-cp", classPath, "dev.ripple.collab.Main"));
    ProcessBuilder pb = new ProcessBuilder(command)
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Map<String, String> e = pb.environment();
    e.keySet().removeIf(k -> k.startsWith("COLLAB_") || k.startsWith("CONVEX_") || k.equals("PARTYKIT_SECRET"));
    e.put("COLLAB_PORT", Integer.toString(port));
    e.put("COLLAB_BIND_HOST", "127.0.0.1");
    e.put("COLLAB_DATA_DIR", data.toString());
    e.put("COLLAB_WARMUP", "off"); // tests measure their own load, not the warm-up's (WarmupEndToEndTest tests it)
    e.putAll(env);
    Process p = pb.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      if (Files.exists(log) && Files.readString(log).contains("listening on 127.0.0.1:" + port)) return p;
      if (!p.isAlive()) break;
      Thread.sleep(100);
    }
    p.destroyForcibly();
    throw new AssertionError("server did not start: " + (Files.exists(log) ? Files.readString(log) : "no log"));
  }
}
