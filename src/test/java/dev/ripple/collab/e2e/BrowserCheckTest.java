package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ripple.collab.Main;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.TestServers;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real-browser check: headless Chromium (Debian's {@code chromium}, driven by playwright-core from
 * conformance/e2e/browser/check.mjs) opens a textarea bound to Yjs twice against this server, both pages type at
 * once, and the two textareas must converge. Screenshots land in target/conformance/browser-*.png.
 *
 * <p>Installs what it needs on a fresh machine: Debian's chromium (conformance/e2e/browser/install-chromium.sh, as
 * root through apt-get), the pinned npm packages ({@code npm ci}), and the page bundle ({@code npm run build}).
 * When chromium cannot be installed the test fails; it never skips.
 */
class BrowserCheckTest {
  private static final Path BROWSER = NodeProcess.CONFORMANCE.resolve("e2e/browser");
  private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  private static final List<String> SCREENSHOTS =
      List.of("browser-a.png", "browser-b.png", "browser-side-by-side.png");

  private Path dataDir;
  private Main.Server server;

  @BeforeEach
  void start() throws Exception {
    Files.createDirectories(NodeProcess.WORK);
    dataDir = TestServers.dataDir("browser-data");
    server = Main.start(TestServers.config(dataDir));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
  }

  @Test
  void twoChromiumPagesTypingAtOnceConverge() throws Exception {
    installChromium();
    installPackages();
    NodeProcess.run(BROWSER, List.of("npm", "run", "build"), NodeProcess.WORK.resolve("browser-build.log"), 120);
    for (String name : SCREENSHOTS) Files.deleteIfExists(NodeProcess.WORK.resolve(name));

    NodeProcess.Result r = NodeProcess.exec(BROWSER, List.of("node", "check.mjs", Integer.toString(server.port())),
        NodeProcess.WORK.resolve("browser-check.log"), 180);
    String out = r.output();
    String tail = out.substring(Math.max(0, out.length() - 4000));
    assertEquals(0, r.exitCode(), "node check.mjs exited " + r.exitCode() + ":\n" + tail);
    String line = lastJsonLine(out);
    assertTrue(line.contains("\"ok\":true"), tail);

    JsonNode json = new ObjectMapper().readTree(line);
    assertEquals(json.get("valueA").asText(), json.get("valueB").asText(), line);
    List<Path> shots = new ArrayList<>();
    json.get("screenshots").forEach(n -> shots.add(Path.of(n.asText())));
    assertEquals(SCREENSHOTS.size(), shots.size(), line);
    for (Path shot : shots) {
      assertTrue(SCREENSHOTS.contains(shot.getFileName().toString()), "unexpected screenshot " + shot);
      assertTrue(Files.isRegularFile(shot), "missing screenshot " + shot);
      assertTrue(Files.size(shot) > 1000, "screenshot too small: " + shot + " (" + Files.size(shot) + " bytes)");
      try (InputStream in = Files.newInputStream(shot)) {
        assertArrayEquals(PNG_SIGNATURE, in.readNBytes(PNG_SIGNATURE.length), "not a PNG: " + shot);
      }
      System.out.println("browser check screenshot: " + shot.toAbsolutePath());
    }
    System.out.println("browser check converged on: " + json.get("valueA").asText()
        + " (remote edits each page saw while typing: " + json.get("remoteDuringTyping") + ")");
  }

  /** Debian's chromium at /usr/bin/chromium, installed through apt-get when missing; a failure fails the test. */
  private static void installChromium() throws Exception {
    Path log = NodeProcess.WORK.resolve("browser-install-chromium.log");
    NodeProcess.Result r = NodeProcess.exec(BROWSER, List.of("bash", "install-chromium.sh"), log, 900);
    if (r.exitCode() != 0) {
      fail("Chromium is required by the browser check and could not be installed (install-chromium.sh exited "
          + r.exitCode() + "; it needs root and apt-get: apt-get install chromium). Log " + log + ":\n"
          + r.output().substring(Math.max(0, r.output().length() - 3000)));
    }
  }

  /** {@code npm ci} in conformance/e2e/browser unless its packages are installed and not older than the lock file. */
  private static void installPackages() throws Exception {
    Path lock = BROWSER.resolve("package-lock.json");
    Path stamp = BROWSER.resolve("node_modules").resolve(".package-lock.json");
    if (!Files.exists(stamp) || Files.getLastModifiedTime(stamp).compareTo(Files.getLastModifiedTime(lock)) < 0) {
      NodeProcess.run(BROWSER, List.of("npm", "ci", "--no-audit", "--no-fund"),
          NodeProcess.WORK.resolve("browser-npm-ci.log"), 600);
    }
  }

  private static String lastJsonLine(String output) {
    List<String> lines = Arrays.asList(output.split("\\R"));
    for (int i = lines.size() - 1; i >= 0; i--) {
      String l = lines.get(i).trim();
      if (l.startsWith("{") && l.endsWith("}")) return l;
    }
    return fail("no JSON result line from check.mjs:\n" + output.substring(Math.max(0, output.length() - 4000)));
  }
}
