package dev.ripple.collab.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the conformance/ Node project's scripts from tests: installs its pinned packages once, runs commands with a bound. */
public final class NodeProcess {
  public static final Path CONFORMANCE = Path.of(System.getProperty("ripple.conformance.dir", "conformance"));
  public static final Path WORK = Path.of("target", "conformance");

  private NodeProcess() {}

  /** {@code npm ci} in conformance/ unless its packages are already there. */
  public static void ensureInstalled() throws IOException, InterruptedException {
    ensureInstalled(CONFORMANCE);
  }

  /** {@code npm ci} in a Node project's directory unless its packages are already there (newer than its lock file). */
  public static synchronized void ensureInstalled(Path project) throws IOException, InterruptedException {
    Files.createDirectories(WORK);
    Path lock = project.resolve("package-lock.json");
    Path stamp = project.resolve("node_modules").resolve(".package-lock.json");
    if (!Files.exists(stamp) || Files.getLastModifiedTime(stamp).compareTo(Files.getLastModifiedTime(lock)) < 0) {
      String name = project.equals(CONFORMANCE) ? "npm-ci.log" : "npm-ci-" + project.getFileName() + ".log";
      run(project, List.of("npm", "ci", "--no-audit", "--no-fund"), WORK.resolve(name), 600);
    }
  }

  /** A finished command: exit code and combined output. */
  public record Result(int exitCode, String output) {}

  /** Runs a command; fails the test with its output if it exits non-zero. Returns its output. */
  public static String run(Path dir, List<String> cmd, Path log, int timeoutSeconds) throws IOException, InterruptedException {
    return run(dir, cmd, Map.of(), log, timeoutSeconds);
  }

  /** {@link #run(Path, List, Path, int)} with these variables added to the environment. */
  public static String run(Path dir, List<String> cmd, Map<String, String> env, Path log, int timeoutSeconds)
      throws IOException, InterruptedException {
    Result r = exec(dir, cmd, env, log, timeoutSeconds);
    if (r.exitCode() != 0) {
      String out = r.output();
      throw new AssertionError(String.join(" ", cmd) + " exited " + r.exitCode() + " (log " + log + "):\n"
          + out.substring(Math.max(0, out.length() - 4000)));
    }
    return r.output();
  }

  /** Runs a command and returns its exit code and output, whatever the exit code. */
  public static Result exec(Path dir, List<String> cmd, Path log, int timeoutSeconds) throws IOException, InterruptedException {
    return exec(dir, cmd, Map.of(), log, timeoutSeconds);
  }

  private static Result exec(Path dir, List<String> cmd, Map<String, String> env, Path log, int timeoutSeconds)
      throws IOException, InterruptedException {
    Files.createDirectories(log.toAbsolutePath().getParent());
    ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(cmd)).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(log.toFile());
    pb.environment().putAll(env);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new AssertionError("cannot start " + cmd.get(0) + " (Node 20 and npm are required by the test suite): " + e.getMessage(), e);
    }
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly); // npm's node, and whatever that node started
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", cmd) + " did not finish within " + timeoutSeconds + " s; log: " + log);
    }
    return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
  }
}
