package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.testkit.ServerProcess;
import dev.ripple.collab.testkit.TestServers;
import dev.ripple.collab.testkit.TypedUpdates;
import dev.ripple.collab.yjs.YDoc;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Saved acknowledgements are a promise about durability: the server is a separate process, killed
 * with SIGKILL right after it answered a client's 102, and restarted on the same data; every update
 * the client sent before its 102 must be there.
 */
class SavedAckProcessTest {
  private final List<Process> started = new ArrayList<>();

  @AfterEach
  void stopAll() {
    for (Process p : started) p.destroyForcibly();
  }

  private Process launch(int port, Path data, Path log) throws Exception {
    Process p = ServerProcess.launch(port, data, log, Map.of());
    started.add(p);
    return p;
  }

  /** A raw y-protocols client: what it receives, in order. */
  private static WebSocket connect(int port, String room, LinkedBlockingQueue<byte[]> received) throws Exception {
    return HttpClient.newHttpClient().newWebSocketBuilder()
        .buildAsync(URI.create("ws://127.0.0.1:" + port + "/" + room), new WebSocket.Listener() {
          private java.io.ByteArrayOutputStream partial = new java.io.ByteArrayOutputStream();

          @Override
          public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            partial.write(b, 0, b.length);
            if (last) {
              received.add(partial.toByteArray());
              partial = new java.io.ByteArrayOutputStream();
            }
            w.request(1);
            return null;
          }
        }).get(10, TimeUnit.SECONDS);
  }

  @Test
  void everyUpdateAcknowledgedBySavedSurvivesAKillRightAfterTheAnswer() throws Exception {
    Path work = Files.createDirectories(Path.of("target", "saved-ack").toAbsolutePath());
    Path data = Files.createTempDirectory(work, "data");
    Path log = work.resolve("server.log");

    int port = TestServers.freePort();
    Process server = launch(port, data, log);
    LinkedBlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    WebSocket ws = connect(port, "doc-saved", received);
    int n = 2000;
    for (int i = 0; i < n; i++) ws.sendBinary(ByteBuffer.wrap(SyncProtocol.update(TypedUpdates.typed(i))), true).get(10, TimeUnit.SECONDS);
    byte[] request = {(byte) 102, 3, 1, 2, 3};
    ws.sendBinary(ByteBuffer.wrap(request), true).get(10, TimeUnit.SECONDS);
    byte[] answer = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (answer == null && System.nanoTime() < deadline) {
      byte[] m = received.poll(1, TimeUnit.SECONDS);
      if (m != null && (m[0] & 0xff) == 102) answer = m;
    }
    assertArrayEquals(request, answer, "the saved request is answered with its own bytes");
    server.destroyForcibly(); // SIGKILL right after the answer
    assertTrue(server.waitFor(10, TimeUnit.SECONDS));

    launch(port, data, work.resolve("server-restarted.log"));
    LinkedBlockingQueue<byte[]> fresh = new LinkedBlockingQueue<>();
    WebSocket reader = connect(port, "doc-saved", fresh);
    reader.sendBinary(ByteBuffer.wrap(SyncProtocol.syncStep1(new byte[] {0})), true).get(10, TimeUnit.SECONDS);
    YDoc doc = new YDoc();
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      byte[] m = fresh.poll(1, TimeUnit.SECONDS);
      if (m != null && SyncProtocol.decode(m) instanceof SyncProtocol.SyncUpdate u && u.step2()) {
        doc.apply(u.update());
        break;
      }
    }
    assertEquals(Map.of(7L, (long) n), doc.stateVectorMap(), "every update sent before the acknowledged request");
    reader.abort();
  }

  @Test
  void clientsThatNeverAskAreNeverAnswered() throws Exception {
    Path work = Files.createDirectories(Path.of("target", "saved-ack").toAbsolutePath());
    Path data = Files.createTempDirectory(work, "data");
    int port = TestServers.freePort();
    launch(port, data, work.resolve("server-quiet.log"));
    LinkedBlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    WebSocket ws = connect(port, "doc-quiet", received);
    for (int i = 0; i < 50; i++) ws.sendBinary(ByteBuffer.wrap(SyncProtocol.update(TypedUpdates.typed(i))), true).get(10, TimeUnit.SECONDS);
    ws.sendBinary(ByteBuffer.wrap(SyncProtocol.syncStep1(new byte[] {0})), true).get(10, TimeUnit.SECONDS);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    boolean step2 = false;
    while (!step2 && System.nanoTime() < deadline) {
      byte[] m = received.poll(1, TimeUnit.SECONDS);
      if (m == null) continue;
      assertTrue((m[0] & 0xff) != 102, "a 102 nobody asked for");
      step2 = SyncProtocol.decode(m) instanceof SyncProtocol.SyncUpdate u && u.step2();
    }
    assertTrue(step2);
    ws.abort();
  }
}
