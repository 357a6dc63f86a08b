package dev.ripple.collab.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * conformance/e2e/e2e.mjs steady: a real YPartyKitProvider in a room that must stay connected (a room that
 * stopped would close it with 1012, and it would reconnect and converge all the same) until it sees
 * {@code expected} in the root text "text". {@link #start} returns once it has synced.
 */
public final class SteadyProvider implements AutoCloseable {
  private final Process node;
  private final Path log;

  private SteadyProvider(Process node, Path log) {
    this.node = node;
    this.log = log;
  }

  public static SteadyProvider start(int port, String room, String expected) throws Exception {
    Path log = NodeProcess.WORK.resolve("steady-" + room + ".log");
    Files.createDirectories(log.getParent());
    Process node = new ProcessBuilder("node", "e2e/e2e.mjs", "steady", Integer.toString(port), room, expected)
        .directory(NodeProcess.CONFORMANCE.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    SteadyProvider steady = new SteadyProvider(node, log);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Files.readString(log).contains("synced")) {
      if (!node.isAlive() || System.nanoTime() > deadline) {
        steady.close();
        throw new AssertionError("the provider never synced: " + Files.readString(log));
      }
      Thread.sleep(100);
    }
    return steady;
  }

  /** Waits for the provider's result: it saw the text and its socket never closed. */
  public void assertStayedAndSaw() throws Exception {
    assertTrue(node.waitFor(150, TimeUnit.SECONDS), "the provider did not finish: " + Files.readString(log));
    assertEquals(0, node.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    node.destroyForcibly();
  }
}
