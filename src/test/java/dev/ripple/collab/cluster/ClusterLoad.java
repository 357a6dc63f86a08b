package dev.ripple.collab.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ripple.collab.testkit.NodeProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

/**
 * conformance/e2e/cluster-load.mjs, driven through its stdin and read through its stdout (one JSON object
 * per line): the load of the cluster tests (processes, compose). Its stdout and stderr go to a log.
 */
final class ClusterLoad implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Process process;
  private final String prefix;
  private final int rooms;
  private final BlockingQueue<JsonNode> events = new LinkedBlockingQueue<>();
  private final Path log;

  private ClusterLoad(Process process, String prefix, int rooms, Path log) {
    this.process = process;
    this.prefix = prefix;
    this.rooms = rooms;
    this.log = log;
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = in.readLine()) != null; ) {
          Files.writeString(log, "stdout: " + line + "\n", StandardOpenOption.APPEND);
          try {
            events.add(JSON.readTree(line));
          } catch (IOException notJson) {
            // only JSON lines are events
          }
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }, "cluster-load-stdout");
    reader.setDaemon(true);
    reader.start();
  }

  /** @param targets the script's first argument: comma-separated ports, or {@code lb=host:port} */
  static ClusterLoad start(String targets, String prefix, int rooms, int clientsPerRoom, int intervalMs, Path log) throws IOException {
    Files.createDirectories(log.toAbsolutePath().getParent());
    Files.writeString(log, "");
    Process p = new ProcessBuilder("node", "e2e/cluster-load.mjs", targets, prefix, Integer.toString(rooms),
        Integer.toString(clientsPerRoom), Integer.toString(intervalMs))
        .directory(NodeProcess.CONFORMANCE.toFile())
        .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .start();
    return new ClusterLoad(p, prefix, rooms, log);
  }

  List<String> rooms() {
    return IntStream.range(0, rooms).mapToObj(i -> prefix + "-" + i).toList();
  }

  void send(JsonNode command) throws IOException {
    OutputStream out = process.getOutputStream();
    out.write((command.toString() + "\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  /** The next event named {@code name}; fails on the script's result line when waiting for anything else. */
  JsonNode await(String name, Duration max) throws Exception {
    long deadline = System.nanoTime() + max.toNanos();
    List<JsonNode> seen = new ArrayList<>();
    while (System.nanoTime() < deadline) {
      JsonNode e = events.poll(200, TimeUnit.MILLISECONDS);
      if (e == null) continue;
      if (name.equals(e.path("event").asText())) return e;
      seen.add(e);
      if ("result".equals(e.path("event").asText())) throw new AssertionError("cluster-load.mjs ended early: " + e + "; log " + log);
    }
    String s = Files.readString(log);
    throw new AssertionError("no " + name + " event from cluster-load.mjs within " + max.toSeconds() + " s (saw " + seen + "); log " + log
        + ":\n" + s.substring(Math.max(0, s.length() - 3000)));
  }

  @Override
  public void close() throws Exception {
    process.getOutputStream().close(); // the script exits at once unless it is finishing
    if (!process.waitFor(30, TimeUnit.SECONDS)) process.destroyForcibly();
  }
}
