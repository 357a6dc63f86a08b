package dev.ripple.collab.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.Main;
import dev.ripple.collab.testkit.NodeProcess;
import dev.ripple.collab.testkit.TestServers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * "Nothing lost under pressure", end to end: the server in this JVM (127.0.0.1, H2 in a temporary
 * directory) under floods from the real npm clients and from raw y-protocols connections, driven by
 * conformance/pressure/pressure.mjs (one scenario per test; each prints one JSON line). Besides the JSON, the
 * tests read the server's own log (a logback appender on the root logger for the test's duration):
 * no message dropped, no client closed for sending fast.
 *
 * <p>File descriptors: slowloris holds 2,000 idle sockets on each side of the loopback, in this JVM
 * and in node (which inherits this JVM's limit). The test sizes the crowd down, and says so, where
 * the limit is too low.
 */
class PressureEndToEndTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MB = 1024 * 1024;
  /** "dropping message" (Akka's stash), "dropped a client message" (DropWatch), and the like. */
  private static final Pattern DROPPED = Pattern.compile("(?i)dropp(ed|ing) (a |the )?(client )?messages?");
  /** A log line about closing a connection with 1013 (too slow, or no room in time); not "at byte 1013". */
  private static final Pattern SLOW_CLOSE = Pattern.compile(
      "\\(1013\\)|code 1013|with 1013|too slow|fell \\d+ messages|messages behind|before the room answered|room not reachable");

  private Path dataDir;
  private Main.Server server;
  private LogCapture logs;

  @BeforeAll
  static void install() throws Exception {
    NodeProcess.ensureInstalled();
  }

  @BeforeEach
  void captureLogs() throws Exception {
    dataDir = TestServers.dataDir("pressure-data");
    logs = LogCapture.attach();
  }

  @AfterEach
  void stop() throws Exception {
    try {
      if (server != null) server.stop();
    } finally {
      server = null;
      logs.detach();
    }
  }

  /** application.conf with test overrides (TestServers.config), resolved after overriding. */
  private void start(Map<String, Object> overrides) throws Exception {
    server = TestServers.start(dataDir, overrides);
  }

  // ------------------------------------------------------------------ scenarios

  /**
   * 48 providers in 4 rooms insert 400 times each at once, and a raw client sends 20,000 updates
   * before reading anything: every room converges, fresh clients read every edit, nobody is closed,
   * and the server logged no dropped message and no 1013.
   */
  @Test
  void burstOfSmallUpdatesFromEveryClientLosesNothing() throws Exception {
    start(Map.of());
    JsonNode r = scenario("burst", 330);
    assertOk(r);
    for (JsonNode room : r.get("rooms")) {
      assertEquals(room.get("expected").asInt(), room.at("/fresh/count").asInt(), room.toString());
      assertEquals(0, room.get("disconnects").asInt(), room.toString());
    }
    assertTrue(r.at("/raw/close").isNull(), "the raw client was closed: " + r.get("raw"));
    assertEquals(20000, r.at("/raw/fresh/count").asInt(), r.get("raw").toString());
    assertNoLostMessages();
  }

  /**
   * 8 connections each announce 3,000,000 awareness client ids in one update (~23 MB), one sends a
   * 100 KB state and one a state that is not JSON: each is closed with 1008, an impostor speaking
   * for another connection's id is ignored, the real providers keep their presence, and the heap
   * after a full GC grows by less than 150 MB over the flood. A watchdog stops the flood early (and
   * fails) once the heap, after GC, has grown by 1 GB.
   */
  @Test
  void awarenessFloodClosesOffendersWith1008AndKeepsTheHeapBounded() throws Exception {
    start(Map.of());
    long baseline = heapAfterGc();
    Path log = NodeProcess.WORK.resolve("pressure-awareness-flood.log");
    Process node = new ProcessBuilder("node", "pressure/pressure.mjs", "awareness-flood", Integer.toString(server.port()), "--hold")
        .directory(NodeProcess.CONFORMANCE.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long grownMb;
    String out;
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
      while (node.isAlive() && !Files.readString(log).contains("measure-now") && System.nanoTime() < deadline) {
        Thread.sleep(250);
        long used = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        if (used - baseline > 1024 * MB) {
          long afterGc = heapAfterGc();
          if (afterGc - baseline > 1024 * MB) {
            node.destroyForcibly();
            fail("during the awareness flood the heap, after a full GC, grew by " + (afterGc - baseline) / MB
                + " MB (stopped there; the bound is 150 MB). Node so far:\n" + tail(Files.readString(log)));
          }
        }
      }
      assertTrue(Files.readString(log).contains("measure-now"), "the flood did not finish within 240 s:\n" + tail(Files.readString(log)));
      grownMb = (heapAfterGc() - baseline) / MB;
      System.out.println("awareness flood: heap after GC " + baseline / MB + " MB before, +" + grownMb + " MB after");
      try (OutputStream stdin = node.getOutputStream()) {
        stdin.write("measured\n".getBytes(StandardCharsets.UTF_8));
      }
      assertTrue(node.waitFor(120, TimeUnit.SECONDS), "awareness-flood did not finish after the measurement");
      out = Files.readString(log);
    } finally {
      node.destroyForcibly();
    }
    JsonNode r = resultLine(out);
    for (JsonNode o : r.get("offenders")) {
      assertTrue(!o.get("close").isNull() && o.at("/close/code").asInt() == 1008, "offender not closed with 1008: " + o + "\n" + r);
      assertTrue(!o.at("/close/reason").asText().isEmpty(), "a 1008 close says why: " + o);
    }
    assertOk(r);
    assertTrue(grownMb < 150, "heap after a full GC grew by " + grownMb + " MB over the flood (bound: 150 MB)");
  }

  /** 2,000 awareness updates of one client sent back to back reach the others coalesced, the newest last, and the sender too. */
  @Test
  void awarenessIsRelayedCoalescedIncludingBackToTheSender() throws Exception {
    start(Map.of());
    assertOk(scenario("awareness-coalesce", 60));
  }

  /** 2,000 TCP connections that never send a byte do not stop a real client from connecting and syncing. */
  @Test
  void twoThousandIdleSocketsDoNotLockOutARealClient() throws Exception {
    int sockets = socketsWeCanAfford(2000);
    start(Map.of());
    JsonNode r = scenario("slowloris", 180, Integer.toString(sockets));
    assertOk(r);
    assertEquals(sockets, r.at("/idle/connected").asInt(), r.toString());
  }

  /** With a 3 s idle timeout, idle sockets are closed by the server (and a real client still syncs meanwhile). */
  @Test
  void idleSocketsAreClosedAfterTheIdleTimeout() throws Exception {
    start(Map.of("akka.http.server.idle-timeout", "3s", "akka.http.server.websocket.periodic-keep-alive-max-idle", "1s"));
    JsonNode r = scenario("slowloris", 120, "200", "3");
    assertOk(r);
    assertTrue(r.at("/idleClosed/all").asBoolean(), r.toString());
  }

  /** The shipped configuration bounds idle connections and takes a crowd: the settings slowloris depends on. */
  @Test
  void shippedConfigurationBoundsIdleConnectionsAndTakesACrowd() {
    Config c = ConfigFactory.parseResources("application.conf").withFallback(ConfigFactory.defaultReference())
        .resolve().getConfig("akka.http.server");
    assertTrue(!c.getString("idle-timeout").equals("infinite"), "akka.http.server.idle-timeout must be finite, is infinite");
    Duration idle = c.getDuration("idle-timeout");
    assertTrue(idle.compareTo(Duration.ofSeconds(60)) <= 0 && !idle.isZero(), "idle-timeout " + idle + " (expected 60 s or less)");
    assertTrue(c.getInt("backlog") >= 4096, "backlog " + c.getInt("backlog") + " (expected at least 4096)");
    assertTrue(c.getInt("max-connections") >= 10000, "max-connections " + c.getInt("max-connections") + " (expected at least 10,000)");
  }

  /** max-connections-per-room = 5: the 6th upgrade is HTTP 503 {"error":"room_full"}, another room still opens. */
  @Test
  void sixthConnectionToAFullRoomIsRefusedWith503RoomFull() throws Exception {
    start(Map.of("ripple.limits.max-connections-per-room", 5));
    JsonNode r = scenario("room-full", 60, "5");
    assertOk(r);
    assertEquals(503, r.at("/past/status").asInt(), r.toString());
    assertEquals("room_full", r.at("/json/error").asText(), r.toString());
  }

  /**
   * A connection that never reads while a writer sends 16 MB to its room is closed with 1013
   * (its close frame may never reach it: the server then drops the connection), and the writer and
   * another reader are not slowed down or disconnected.
   */
  @Test
  void clientThatDoesNotReadIsClosedWith1013AndTheRoomCarriesOn() throws Exception {
    // a 1 MiB queue, and small kernel buffers on the server's side (else the kernel holds 4 MB before the queue fills)
    start(Map.of("ripple.limits.outbound-queue-bytes", "1 MiB", "akka.http.server.socket-options.so-send-buffer-size", "64 KiB"));
    String room = "doc-slow-reader";
    try (Socket socket = new Socket()) {
      socket.setReceiveBufferSize(4096); // before connect: a small window, so the server's queue fills, not the kernel's
      socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 10000);
      String status = upgrade(socket, "/" + room);
      assertTrue(status.startsWith("HTTP/1.1 101"), status);
      // nothing is read from here on, until the writer is done
      JsonNode r = scenario("flood-writer", 240, room, "400", "8192");
      ReadOutcome seen = readUntilClosed(socket, Duration.ofSeconds(30));
      List<String> closes = logs.matching(e -> SLOW_CLOSE.matcher(e.getFormattedMessage()).find());
      assertTrue(seen.ended(), "the server never ended the connection of the client that does not read: " + seen);
      assertTrue(seen.closeCode() == 1013 || (seen.closeCode() < 0 && !closes.isEmpty()),
          "the client that does not read was not closed with 1013: " + seen + "; server log: " + closes);
      assertTrue(!closes.isEmpty(), "the server logged no 1013 close: " + seen);
      System.out.println("slow reader: " + seen + "; server: " + closes);
      assertOk(r); // the writer and the other reader: everything arrived, nobody disconnected
    }
  }

  /**
   * 8 raw connections each send 200 updates and at once a malformed message: each is closed with
   * a proper code, and every update sent before the garbage is in the room (accepted means kept).
   */
  @Test
  void updatesSentBeforeAMalformedMessageAreKept() throws Exception {
    start(Map.of());
    JsonNode r = scenario("garbage-after-updates", 120);
    assertOk(r);
    assertEquals(1600, r.at("/fresh/count").asInt(), r.toString());
    assertNoLostMessages();
  }

  /**
   * Rooms passivate 300 ms after their last connection leaves (and saves); 200 short connections
   * arrive one after another around that moment, each sending one update and closing at once: every
   * update is in the room, and the server closed none of them (no 1012 "room moved").
   */
  @Test
  void updatesSentJustBeforeClosingSurviveRoomPassivation() throws Exception {
    start(Map.of("ripple.alarms.debounce", "300ms"));
    JsonNode r = scenario("passivation-race", 240, "200", "300");
    assertOk(r);
    assertNoLostMessages();
  }

  /**
   * 1,000,000 generated messages by default (-Dripple.fuzz.messages, -Dripple.fuzz.seconds change it; recorded y-protocols traffic and its mutations, y-pk-batch
   * sequences true and lying, random text frames) over 32 reconnecting connections, while three real
   * providers edit a control room: every close has a code in 1000..1015 (never 1005/1006), the
   * process answers /alive, new connections work, the control room has every edit, and the server
   * logged no error.
   */
  @Test
  void millionFuzzedMessagesCloseOnlyTheirConnectionsWithProperCodes() throws Exception {
    start(Map.of());
    // -Dripple.fuzz.messages / .seconds / .connections / .seed change the run (e.g. a longer one by hand)
    long messages = Long.getLong("ripple.fuzz.messages", 1_000_000);
    int seconds = Integer.getInteger("ripple.fuzz.seconds", 600);
    List<String> args = new ArrayList<>(List.of(Long.toString(messages), Integer.toString(seconds),
        Integer.toString(Integer.getInteger("ripple.fuzz.connections", 32))));
    if (System.getProperty("ripple.fuzz.seed") != null) args.add(System.getProperty("ripple.fuzz.seed"));
    JsonNode r = scenario("fuzz", seconds + 180, args.toArray(String[]::new));
    System.out.println("fuzz (seed " + r.get("seed") + "): close codes " + r.get("serverCloses") + "; delivered " + r.get("delivered")
        + " in " + r.get("fuzzMs") + " ms over " + r.get("lifetimes") + " connections; kinds " + r.get("kinds"));
    assertOk(r);
    assertTrue(r.get("delivered").asLong() >= messages, r.toString());
    r.get("serverCloses").fieldNames().forEachRemaining(code -> {
      int c = Integer.parseInt(code);
      assertTrue(c >= 1000 && c <= 1015 && c != 1005 && c != 1006, "close code " + c + ": " + r.get("samples"));
    });
    List<String> errors = logs.matching(e -> e.getLevel().isGreaterOrEqual(Level.ERROR));
    assertTrue(errors.isEmpty(), "the server logged errors under fuzzing: " + errors);
    assertNoLostMessages();
  }

  // ------------------------------------------------------------------ helpers

  private JsonNode scenario(String name, int timeoutSeconds, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("node", "pressure/pressure.mjs", name, Integer.toString(server.port())));
    cmd.addAll(List.of(args));
    Path log = NodeProcess.WORK.resolve("pressure-" + name + ".log");
    long t0 = System.nanoTime();
    NodeProcess.Result result = NodeProcess.exec(NodeProcess.CONFORMANCE, cmd, log, timeoutSeconds);
    System.out.printf("pressure.mjs %s: exit %d after %d s (log %s)%n", name, result.exitCode(),
        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0), log);
    return resultLine(result.output());
  }

  /** The scenario's one JSON result line (the last line starting with {"scenario"). */
  private static JsonNode resultLine(String output) throws IOException {
    String line = null;
    for (String l : output.split("\n")) if (l.startsWith("{\"scenario\"")) line = l;
    if (line == null) throw new AssertionError("no result line; output:\n" + tail(output));
    return JSON.readTree(line);
  }

  private static void assertOk(JsonNode r) {
    assertTrue(r.path("ok").asBoolean(false), r.path("scenario").asText() + " failed: " + r.path("reason").asText() + "\n" + r);
  }

  private static String tail(String s) {
    return s.substring(Math.max(0, s.length() - 6000));
  }

  /** A room's command in a log line: its messages (not what it sends sessions) and its own alarms and completions. */
  private static final Pattern ROOM_COMMAND = Pattern.compile(
      "collab\\.room\\.(RoomProtocol\\$(?!Send|Close|Joined|Ack)|(Room|BackupSchedule|ColdStart|Passivation|PresenceRelay|ChangeNotification|EncodedStateCache)\\$)");

  /** No message dropped (stash overflow, dead letters of a room's commands), no client closed for being slow. */
  private void assertNoLostMessages() {
    List<String> lost = logs.matching(e -> {
      String m = e.getFormattedMessage();
      return m.contains("Stash buffer is full") || DROPPED.matcher(m).find() || m.contains("Dropped") || e.getLoggerName().endsWith("DropWatch")
          || m.contains("StashOverflow") || m.contains("saw failure")
          || (m.contains("dead letters") && ROOM_COMMAND.matcher(m).find())
          || SLOW_CLOSE.matcher(m).find();
    });
    assertTrue(lost.isEmpty(), lost.size() + " log events show a lost message or a 1013 close, first: "
        + lost.subList(0, Math.min(10, lost.size())));
  }

  private static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /**
   * How many idle sockets this machine lets us hold: each costs a descriptor in this JVM and one in
   * node (which inherits our limit). Fewer than asked only where the limit is low, and then loudly.
   */
  private static int socketsWeCanAfford(int wanted) {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean os) {
      long spare = os.getMaxFileDescriptorCount() - os.getOpenFileDescriptorCount() - 1000;
      if (spare < wanted) {
        System.out.printf("slowloris: the open-file limit is %d; holding %d idle sockets instead of %d (raise ulimit -n)%n",
            os.getMaxFileDescriptorCount(), Math.max(100, spare), wanted);
        return (int) Math.max(100, spare);
      }
    }
    return wanted;
  }

  /** A WebSocket upgrade by hand; returns the status line (headers are read and dropped). */
  private static String upgrade(Socket socket, String path) throws IOException {
    byte[] key = new byte[16];
    new java.security.SecureRandom().nextBytes(key);
    String request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().flush();
    socket.setSoTimeout(10000);
    InputStream in = socket.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) break;
      head.write(b);
    }
    return head.toString(StandardCharsets.US_ASCII).split("\r\n")[0];
  }

  /** What a client that finally reads finds: frames, then a close frame (its code) or the end of the stream. */
  record ReadOutcome(int dataFrames, long dataBytes, int closeCode, String ending) {
    boolean ended() {
      return !ending.equals("still open");
    }
  }

  /** Reads server frames (unmasked) until a close frame, EOF, a reset, or `quiet` without a byte. */
  private static ReadOutcome readUntilClosed(Socket socket, Duration quiet) throws IOException {
    socket.setSoTimeout((int) quiet.toMillis());
    InputStream in = new java.io.BufferedInputStream(socket.getInputStream(), 1 << 16);
    int frames = 0;
    long bytes = 0;
    try {
      while (true) {
        int b0 = in.read();
        if (b0 < 0) return new ReadOutcome(frames, bytes, -1, "end of stream without a close frame");
        int b1 = in.read();
        if (b1 < 0) return new ReadOutcome(frames, bytes, -1, "end of stream inside a frame");
        long len = b1 & 0x7f;
        if (len == 126) len = (in.read() << 8) | in.read();
        else if (len == 127) {
          len = 0;
          for (int i = 0; i < 8; i++) len = (len << 8) | in.read();
        }
        byte[] payload = in.readNBytes((int) len);
        if (payload.length < len) return new ReadOutcome(frames, bytes, -1, "end of stream inside a frame");
        int opcode = b0 & 0x0f;
        if (opcode == 8) {
          int code = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
          String reason = payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
          return new ReadOutcome(frames, bytes, code, "close frame: " + reason);
        }
        if (opcode == 1 || opcode == 2 || opcode == 0) {
          frames++;
          bytes += len;
        }
      }
    } catch (SocketTimeoutException e) {
      return new ReadOutcome(frames, bytes, -1, "still open");
    } catch (SocketException e) {
      return new ReadOutcome(frames, bytes, -1, "reset: " + e.getMessage());
    }
  }

  /** Keeps the formatted log events of the test's duration (bounded), from every logger. */
  static final class LogCapture extends AppenderBase<ILoggingEvent> {
    private static final int MAX = 200_000;
    private final List<ILoggingEvent> events = new ArrayList<>();

    static LogCapture attach() {
      LogCapture c = new LogCapture();
      ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
      c.setContext(root.getLoggerContext());
      c.setName("pressure-capture");
      c.start();
      root.addAppender(c);
      return c;
    }

    void detach() {
      ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(this);
      stop();
    }

    @Override
    protected void append(ILoggingEvent e) { // AppenderBase.doAppend holds this appender's lock
      e.prepareForDeferredProcessing();
      if (events.size() < MAX) events.add(e);
    }

    /** "LEVEL logger - message" of the events that match. */
    synchronized List<String> matching(Predicate<ILoggingEvent> p) {
      List<String> out = new ArrayList<>();
      for (ILoggingEvent e : events) {
        if (p.test(e)) out.add(e.getLevel() + " " + e.getLoggerName() + " - " + e.getFormattedMessage());
      }
      return out;
    }
  }
}
