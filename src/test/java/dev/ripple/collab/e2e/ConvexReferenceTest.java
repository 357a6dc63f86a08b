package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.testkit.NodeProcess;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The reference Convex code's own suite (convex/, type checks and convex-test), run as part of the
 * README's test command so that the code users deploy is checked with the server.
 */
class ConvexReferenceTest {
  @Test
  void convexHttpActionsPassTheirConvexTestSuite() throws Exception {
    ConvexBridgeEndToEndTest.ensureConvexInstalled();
    String out = NodeProcess.run(ConvexBridgeEndToEndTest.CONVEX, List.of("npm", "test"),
        NodeProcess.WORK.resolve("convex-npm-test.log"), 600);
    assertTrue(out.contains("passed"), out);
  }
}
