package dev.ripple.collab.e2e;

import dev.ripple.collab.Main;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.TestServers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@code @ripple/saved} client module (clients/) passes its own tests ({@code npm test}, the
 * real y-partykit and y-websocket providers) against this server: most against the server in this
 * JVM, whose port goes in RIPPLE_PORT; those that kill and restart a server start their own
 * process from this test's class path (RIPPLE_SERVER_COMMAND), as ProcessCluster does.
 */
class SavedClientModuleTest {
  private static final Path CLIENTS = Path.of(System.getProperty("ripple.clients.dir", "clients"));

  private Main.Server server;

  @BeforeEach
  void start() throws Exception {
    NodeProcess.ensureInstalled(CLIENTS);
    Path dataDir = TestServers.dataDir("saved-data");
    server = Main.start(TestServers.config(dataDir));
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.stop();
  }

  @Test
  void savedClientModulePassesItsTestsAgainstTheServer() throws Exception {
    NodeProcess.run(CLIENTS, List.of("npm", "test"), Map.of(
            "RIPPLE_PORT", Integer.toString(server.port()),
            "RIPPLE_SERVER_COMMAND", json(serverCommand())),
        NodeProcess.WORK.resolve("saved-client-npm-test.log"), 900);
  }

  /** {@code java dev.ripple.collab.Main} on this test's class path; the COLLAB_* variables come from the Node side. */
  private static List<String> serverCommand() {
    String javaBin = ProcessHandle.current().info().command().orElse("java");
    // surefire runs tests from a manifest-only jar; its full class path is in this property
    String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    return new ArrayList<>(List.of(javaBin, "-Xmx512m", "-Xss4m", "-XX:+ExitOnOutOfMemoryError",
        "-Djava.io.tmpdir=" + Path.of("target").toAbsolutePath(), "-cp", classPath, "dev.ripple.collab.Main"));
  }

  private static String json(List<String> strings) {
    return strings.stream()
        .map(s -> '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"')
        .collect(Collectors.joining(",", "[", "]"));
  }
}
