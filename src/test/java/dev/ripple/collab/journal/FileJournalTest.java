package dev.ripple.collab.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.ActorRef;
import akka.actor.ActorSystem;
import akka.actor.Props;
import akka.pattern.Patterns;
import akka.persistence.Persistence;
import akka.persistence.AbstractPersistentActor;
import akka.persistence.DeleteMessagesSuccess;
import akka.persistence.SaveSnapshotSuccess;
import akka.persistence.SnapshotOffer;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The file journal through Akka Persistence itself: a persistent actor writes, deletes, and recovers across restarts. */
class FileJournalTest {
  private static final Duration T = Duration.ofSeconds(20);
  private ActorSystem system;

  @AfterEach
  void stop() throws Exception {
    terminate(system);
  }

  /** Terminates {@code system} (if any) and waits for it: the next one may open the same files. */
  static void terminate(ActorSystem system) throws Exception {
    if (system != null) {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
  }

  /** An event whose deserialization is slow (2 ms), so that a replay spans many writes of the journal actor. */
  public record Slow(String text) {}

  /** The serializer of {@link Slow}: UTF-8, and a pause when reading. */
  public static final class SlowSerializer extends akka.serialization.JSerializer {
    @Override
    public int identifier() {
      return 972_341;
    }

    @Override
    public boolean includeManifest() {
      return false;
    }

    @Override
    public byte[] toBinary(Object o) {
      return ((Slow) o).text().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    @Override
    public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
      try {
        Thread.sleep(2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return new Slow(new String(bytes, java.nio.charset.StandardCharsets.UTF_8));
    }
  }

  /** A log of strings: "add" persists one, "add2" two in one write, "delete:N" deletes to N, "get" answers the state. */
  static final class Log extends AbstractPersistentActor {
    private final String id;
    private final List<String> state = new ArrayList<>();
    private ActorRef deleteAsker;
    private ActorRef snapshotAsker;

    Log(String id) {
      this.id = id;
    }

    @Override
    public String persistenceId() {
      return id;
    }

    @Override
    public Receive createReceiveRecover() {
      return receiveBuilder().match(String.class, state::add).match(Slow.class, e -> state.add(e.text()))
          .match(SnapshotOffer.class, o -> { // the state as one string (strings have a serializer), one line per event
            state.clear();
            String text = (String) o.snapshot();
            if (!text.isEmpty()) state.addAll(List.of(text.split("\n")));
          }).build();
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder()
          .matchEquals("get", m -> getSender().tell(List.of(List.copyOf(state), lastSequenceNr()), getSelf()))
          .matchEquals("snapshot-and-delete", m -> { // what a room does: a snapshot, then the events it covers deleted
            deleteAsker = getSender();
            snapshotAsker = null;
            saveSnapshot(String.join("\n", state));
          })
          .matchEquals("snapshot", m -> { // a snapshot alone, the events kept: answers "saved"
            snapshotAsker = getSender();
            saveSnapshot(String.join("\n", state));
          })
          .match(SaveSnapshotSuccess.class, m -> {
            if (snapshotAsker != null) snapshotAsker.tell("saved", getSelf());
            else deleteMessages(m.metadata().sequenceNr());
          })
          .match(String.class, m -> m.startsWith("slow:"), m -> {
            ActorRef asker = getSender();
            persist(new Slow(m.substring(5)), e -> {
              state.add(e.text());
              asker.tell("ok", getSelf());
            });
          })
          .match(String.class, m -> m.startsWith("delete:"), m -> {
            deleteAsker = getSender();
            deleteMessages(Long.parseLong(m.substring(7)));
          })
          .match(String.class, m -> m.startsWith("add2:"), m -> {
            ActorRef asker = getSender();
            persistAll(List.of(m.substring(5) + "-a", m.substring(5) + "-b"), e -> {
              state.add(e);
              if (e.endsWith("-b")) asker.tell("ok", getSelf());
            });
          })
          .match(String.class, m -> {
            ActorRef asker = getSender();
            persist(m, e -> {
              state.add(e);
              asker.tell("ok", getSelf());
            });
          })
          .match(DeleteMessagesSuccess.class, m -> deleteAsker.tell("deleted", getSelf()))
          .build();
    }
  }

  private static Config config(Path dir, long segmentSize, Map<String, Object> extra) {
    Map<String, Object> settings = new java.util.HashMap<>(Map.of(
        "akka.persistence.journal.plugin", "ripple-file-journal",
        "akka.persistence.snapshot-store.plugin", "ripple-file-snapshot-store",
        "akka.actor.provider", "local",
        "ripple.data-dir", dir.toString(),
        "ripple-file-journal.segment-size", segmentSize,
        "akka.actor.serializers.slow", SlowSerializer.class.getName(),
        "akka.actor.serialization-bindings.\"" + Slow.class.getName() + "\"", "slow"));
    settings.putAll(extra);
    return ConfigFactory.parseMap(settings)
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  private ActorRef start(Path dir, long segmentSize, String id) throws Exception {
    return start(dir, segmentSize, id, Map.of());
  }

  private ActorRef start(Path dir, long segmentSize, String id, Map<String, Object> extra) throws Exception {
    if (system != null) stop();
    system = ActorSystem.create("journal", config(dir, segmentSize, extra));
    return system.actorOf(Props.create(Log.class, () -> new Log(id)));
  }

  private FileJournal.HealthReport health() {
    ActorRef journal = Persistence.get(system).journalFor("ripple-file-journal", ConfigFactory.empty());
    return (FileJournal.HealthReport) Patterns.ask(journal, new FileJournal.Health(), T).toCompletableFuture().join();
  }

  /** The answer to "get", or the failure (a persistent actor whose recovery failed has stopped). */
  private static Object tryGet(ActorRef log) {
    try {
      return Patterns.ask(log, "get", Duration.ofSeconds(5)).toCompletableFuture().join();
    } catch (RuntimeException e) {
      return e;
    }
  }

  /** Overwrites one byte of a file. */
  private static void corrupt(Path file, long at) throws Exception {
    try (FileChannel c = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.allocate(1);
      c.read(b, at);
      c.write(ByteBuffer.wrap(new byte[] {(byte) (b.get(0) ^ 0x5a)}), at);
    }
  }

  private ActorRef again(String id) {
    return system.actorOf(Props.create(Log.class, () -> new Log(id)));
  }

  private static Object ask(ActorRef ref, String m) {
    return Patterns.ask(ref, m, T).toCompletableFuture().join();
  }

  @SuppressWarnings("unchecked")
  private static List<String> state(ActorRef ref) {
    return (List<String>) ((List<Object>) ask(ref, "get")).get(0);
  }

  @SuppressWarnings("unchecked")
  private static long seq(ActorRef ref) {
    return (Long) ((List<Object>) ask(ref, "get")).get(1);
  }

  /** The journal's segment files, oldest first. */
  private static List<Path> segments(Path dir) throws Exception {
    try (Stream<Path> files = Files.list(dir.resolve("journal"))) {
      return files.filter(f -> f.getFileName().toString().startsWith("segment-")).sorted().toList();
    }
  }

  private static List<Path> damagedCopies(Path dir) throws Exception {
    Path damaged = dir.resolve("journal").resolve(FileJournal.DAMAGED);
    if (!Files.exists(damaged)) return List.of();
    try (Stream<Path> files = Files.list(damaged)) {
      return files.sorted().toList();
    }
  }

  private static long journalBytes(Path dir) throws Exception {
    return segments(dir).stream().mapToLong(p -> p.toFile().length()).sum();
  }

  @Test
  void eventsSurviveARestartInOrderWithMultiEventWrites() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef log = start(dir, 64L << 20, "p1");
    ask(log, "one");
    ask(log, "add2:two");
    ask(log, "three");
    ActorRef other = again("p2");
    ask(other, "x");
    log = start(dir, 64L << 20, "p1");
    assertEquals(List.of("one", "two-a", "two-b", "three"), state(log));
    assertEquals(4, seq(log));
    assertEquals(List.of("x"), state(again("p2")));
  }

  @Test
  void deletedEventsAreNotReplayedAndTheSequenceGoesOn() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef log = start(dir, 64L << 20, "p");
    for (int i = 1; i <= 5; i++) ask(log, "e" + i);
    assertEquals("deleted", ask(log, "delete:3"));
    log = start(dir, 64L << 20, "p");
    assertEquals(List.of("e4", "e5"), state(log));
    assertEquals(5, seq(log));
    ask(log, "e6");
    log = start(dir, 64L << 20, "p");
    assertEquals(List.of("e4", "e5", "e6"), state(log));
    assertEquals(6, seq(log));
  }

  @Test
  void aStreamWhoseEventsAreAllDeletedIsForgottenAndItsSnapshotCarriesTheSequence() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef log = start(dir, 4096, "p");
    for (int i = 1; i <= 5; i++) ask(log, "e" + i);
    for (int n = 0; n < 50; n++) {
      ActorRef room = again("room-" + n);
      ask(room, "x" + n);
      assertEquals("deleted", ask(room, "snapshot-and-delete"));
    }
    assertEquals("deleted", ask(log, "snapshot-and-delete"));
    assertEquals(0, health().streams(), "streams without a live event are still in the index");
    log = start(dir, 4096, "p");
    assertEquals(0, health().streams(), "forgotten streams came back at the restart");
    assertEquals(List.of("e1", "e2", "e3", "e4", "e5"), state(log));
    assertEquals(5, seq(log), "the sequence number went back");
    ask(log, "e6");
    assertEquals(List.of("x7"), state(again("room-7")));
    log = start(dir, 4096, "p");
    assertEquals(List.of("e1", "e2", "e3", "e4", "e5", "e6"), state(log));
    assertEquals(6, seq(log));
  }

  @Test
  void aTornLastRecordIsCutOffKeptAsideAndTheRestKept() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef log = start(dir, 64L << 20, "p");
    ask(log, "kept1");
    ask(log, "kept2");
    stop();
    system = null;
    List<Path> segments = segments(dir);
    Path segment = segments.get(segments.size() - 1);
    long before = Files.size(segment);
    try (FileChannel c = FileChannel.open(segment, StandardOpenOption.APPEND)) {
      c.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 100, 1, 2, 3, 4, 1, 0})); // a header promising 100 bytes, 2 there
    }
    log = start(dir, 64L << 20, "p");
    assertEquals(List.of("kept1", "kept2"), state(log));
    assertEquals(before, Files.size(segment), "the torn record was not cut off");
    assertEquals(1, damagedCopies(dir).size(), "the cut bytes were not kept");
    assertEquals(10, Files.size(damagedCopies(dir).get(0)));
    ask(log, "after");
    log = start(dir, 64L << 20, "p");
    assertEquals(List.of("kept1", "kept2", "after"), state(log));
  }

  @Test
  void aDamagedRecordInAnOlderSegmentRefusesTheStartWithTheReasonAndChangesNothing() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef log = start(dir, 256, "p"); // tiny segments: every write starts a new one
    for (int i = 0; i < 4; i++) ask(log, "event-" + i);
    stop();
    system = null;
    Path first = segments(dir).get(0);
    byte[] before = Files.readAllBytes(first);
    corrupt(first, 40); // inside the first record's body, after its persistence id
    log = start(dir, 256, "p");
    FileJournal.HealthReport health = health();
    assertTrue(!health.running() && health.failure().contains("damaged record") && health.failure().contains("of p")
        && health.failure().contains("COLLAB_JOURNAL_ON_DAMAGE=skip"), String.valueOf(health.failure()));
    assertTrue(tryGet(log) instanceof RuntimeException, "recovered from a damaged journal");
    assertEquals(before.length, Files.size(first), "a refused start changed the segment");
    assertEquals(List.of(), damagedCopies(dir));
    // the server does not open its port on such a journal
    IllegalStateException refused = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
        () -> JournalCheck.awaitRunning(system, Duration.ofSeconds(10)));
    assertTrue(refused.getMessage().contains("damaged record"), refused.getMessage());
    assertEquals(false, new JournalCheck(system).get().toCompletableFuture().get(10, TimeUnit.SECONDS), "/ready said ready");
  }

  @Test
  void aDamagedRecordInTheMiddleOfTheLastSegmentNeverTruncatesTheValidRecordsAfterIt() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef a = start(dir, 64L << 20, "room-a");
    ask(a, "a1");
    ActorRef b = again("room-b");
    ask(b, "b1");
    ask(b, "b2");
    ActorRef c = again("room-c");
    ask(c, "c1");
    ask(a, "a2");
    stop();
    system = null;
    Path segment = segments(dir).get(0);
    long size = Files.size(segment);
    // the second record is room-b's first write; damage a byte inside it, past its persistence id
    long second = ByteBuffer.wrap(Files.readAllBytes(segment)).getInt(0) + 8;
    corrupt(segment, second + 8 + 20);

    // by default: refused, nothing cut off
    start(dir, 64L << 20, "room-a");
    assertTrue(!health().running(), "started on a damaged journal");
    assertEquals(size, Files.size(segment), "valid acknowledged records were cut off");

    // skip: every valid record is served, the damaged room is quarantined, the damaged bytes kept
    Map<String, Object> skip = Map.of("ripple-file-journal.on-damage", "skip");
    a = start(dir, 64L << 20, "room-a", skip);
    assertTrue(health().running());
    assertEquals(List.of("room-b"), health().quarantined());
    assertEquals(List.of("a1", "a2"), state(a));
    assertEquals(List.of("c1"), state(again("room-c")));
    assertTrue(tryGet(again("room-b")) instanceof RuntimeException, "a quarantined room recovered without its first event");
    assertEquals(1, damagedCopies(dir).size());
    assertEquals(size, Files.size(segment));
    ask(a, "a3");
    assertTrue(Files.readString(dir.resolve("journal").resolve(FileJournal.QUARANTINE)).contains("room-b\n"));

    // once handled, a restart with the default setting starts again; the quarantine holds until released
    a = start(dir, 64L << 20, "room-a");
    assertTrue(health().running());
    assertEquals(List.of("a1", "a2", "a3"), state(a));
    assertTrue(tryGet(again("room-b")) instanceof RuntimeException);
    stop();
    system = null;
    Files.writeString(dir.resolve("journal").resolve(FileJournal.QUARANTINE), "# released\n");
    start(dir, 64L << 20, "room-a");
    assertEquals(List.of("b2"), state(again("room-b")), "released: served from the events that are left");
  }

  @Test
  void aSecondJournalOnTheSameDirectoryRefusesToStart() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef log = start(dir, 64L << 20, "p");
    ask(log, "one");
    ActorSystem second = ActorSystem.create("second", config(dir, 64L << 20, Map.of()));
    try {
      ActorRef journal = Persistence.get(second).journalFor("ripple-file-journal", ConfigFactory.empty());
      FileJournal.HealthReport report = (FileJournal.HealthReport)
          Patterns.ask(journal, new FileJournal.Health(), T).toCompletableFuture().join();
      assertTrue(!report.running() && report.failure().contains("in use by another server"), String.valueOf(report.failure()));
    } finally {
      second.terminate();
      second.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
    ask(log, "two");
    log = start(dir, 64L << 20, "p");
    assertEquals(List.of("one", "two"), state(log));
  }

  @Test
  void aWriteLargerThanTheLargestRecordIsRefusedToItsWriterAlone() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    Map<String, Object> small = Map.of("ripple-file-journal.max-record-size", "4 KiB");
    ActorRef log = start(dir, 64L << 20, "p", small);
    ask(log, "small");
    log.tell("x".repeat(10_000), ActorRef.noSender()); // refused: the actor is told, and goes on
    ask(log, "after");
    assertEquals(List.of("small", "after"), state(log));
    log = start(dir, 64L << 20, "p", small);
    assertEquals(List.of("small", "after"), state(log));
  }

  @Test
  void aSegmentThatCannotBeStartedDoesNotFailTheWriteThatFilledTheLastOne() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef log = start(dir, 256, "p");
    ask(log, "first");
    stop();
    system = null;
    // the next segment's name is taken by a directory: the roll after the next write fails
    int next = segments(dir).size() + 1;
    Path blocker = dir.resolve("journal").resolve(String.format("segment-%016d.log", next));
    log = start(dir, 256, "p");
    assertEquals(List.of("first"), state(log)); // the journal has read its files
    Files.createDirectory(blocker);
    assertEquals("ok", ask(log, "x".repeat(300)), "a stored write was reported failed");
    assertEquals("ok", ask(log, "then"));
    stop();
    system = null;
    Files.delete(blocker);
    log = start(dir, 256, "p");
    assertEquals(List.of("first", "x".repeat(300), "then"), state(log));
  }

  /** Compaction copies live records to the head and deletes the old segment: the copy is forced to the disk first, always. */
  @Test
  void aCompactionForcesItsCopyBeforeItDeletesTheSegmentItCopied() throws Exception {
    List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
    FileJournal.fileEvents = events::add;
    try {
      Path dir = Files.createTempDirectory("journal");
      ActorRef pinned = start(dir, 4096, "pinned"); // fsync is off: only compaction forces
      ask(pinned, "pinned-1");
      for (int round = 0; round < 10; round++) {
        ActorRef churn = again("churn-" + round);
        for (int i = 0; i < 40; i++) ask(churn, "x".repeat(100) + i);
        assertEquals("deleted", ask(churn, "delete:40"));
      }
      List<String> seen;
      synchronized (events) {
        seen = List.copyOf(events);
      }
      long deletes = seen.stream().filter(e -> e.startsWith("delete ")).count();
      assertTrue(deletes > 0, "nothing was deleted: " + seen);
      boolean forcedSinceLastDelete = false;
      for (String e : seen) {
        if (e.startsWith("force ")) forcedSinceLastDelete = true;
        if (e.startsWith("delete ")) {
          assertTrue(forcedSinceLastDelete, "a segment was deleted before the copy was forced: " + seen);
          forcedSinceLastDelete = false;
        }
      }
      assertEquals(List.of("pinned-1"), state(start(dir, 4096, "pinned")));
    } finally {
      FileJournal.fileEvents = null;
    }
  }

  @Test
  void deletedSpaceIsReclaimedAndLiveEventsSurviveCompaction() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef pinned = start(dir, 4096, "pinned");
    ask(pinned, "pinned-1"); // one live event in the first segment, forever
    for (int round = 0; round < 20; round++) {
      ActorRef churn = again("churn-" + round);
      for (int i = 0; i < 40; i++) ask(churn, "x".repeat(100) + i);
      assertEquals("deleted", ask(churn, "delete:40"));
      system.stop(churn);
    }
    long bytes = journalBytes(dir);
    // 20 x 40 events of ~200 bytes were written (about 160 KB): all but one deleted
    assertTrue(bytes < 40_000, "the journal still holds " + bytes + " bytes");
    ActorRef last = again("last");
    ask(last, "last-1");
    pinned = start(dir, 4096, "pinned");
    assertEquals(List.of("pinned-1"), state(pinned));
    assertEquals(List.of("last-1"), state(again("last")));
    assertEquals(List.of(), state(again("churn-7")), "deleted events came back after compaction");
  }

  /**
   * Akka runs a replay in a future beside the journal actor. A replay that takes long (2 ms per event
   * here) while other rooms delete their events, so that compactions move the replayed room's
   * records and delete the segments they were in, must still see every event.
   */
  @Test
  void aReplayRacingCompactionsOfItsOwnRecordsSeesEveryEvent() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    Map<String, Object> busy = Map.of("ripple-file-journal.compact-ratio", 1.1);
    ActorRef big = start(dir, 2048, "big", busy);
    List<ActorRef> churn = new ArrayList<>();
    for (int c = 0; c < 20; c++) churn.add(again("churn-" + c));
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 300; i++) { // the big room's records share their segments with records that will be deleted
      String event = "big-" + i + "-" + "z".repeat(60);
      ask(big, "slow:" + event);
      expected.add(event);
      ask(churn.get(i % churn.size()), "c".repeat(120));
    }
    system.stop(big);
    Thread.sleep(200);
    List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
    FileJournal.fileEvents = events::add;
    ActorRef recovering;
    try {
      recovering = again("big"); // its replay takes about 600 ms
      Thread.sleep(100); // into the replay (a pause to spread the work, not a condition of the test)
      for (int c = 0; c < churn.size(); c++) {
        assertEquals("deleted", ask(churn.get(c), "delete:15")); // each deletion may compact a segment of the big room
        Thread.sleep(15);
      }
      assertEquals(expected, state(recovering), "the replay lost or garbled events");
    } finally {
      FileJournal.fileEvents = null;
    }
    // the index was read only between its changes: no write, deletion or compaction inside a replay's read
    int open = 0;
    int changes = 0;
    synchronized (events) {
      for (String e : events) {
        if (e.startsWith("read-begin")) open++;
        else if (e.startsWith("read-end")) open--;
        else if (e.equals("write")) {
          assertEquals(0, open, "the index changed while a replay was reading it");
          changes++;
        }
      }
    }
    assertTrue(changes > 20, "the replay raced nothing: " + changes + " changes");
    assertEquals(expected, state(start(dir, 2048, "big", busy)), "and from the files");
  }

  @Test
  void eventsAndSnapshotsKeptInH2BeforeAreMovedIntoTheFilesAndH2IsNotOpenedAgain() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    Config h2 = ConfigFactory.parseMap(Map.of("akka.persistence.journal.plugin", "jdbc-journal",
            "akka.persistence.snapshot-store.plugin", "jdbc-snapshot-store", "akka.actor.provider", "local", "ripple.data-dir", dir.toString()))
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve();
    system = ActorSystem.create("h2", h2);
    akka.persistence.jdbc.testkit.javadsl.SchemaUtils.createIfNotExists(system).toCompletableFuture().get(30, TimeUnit.SECONDS);
    ActorRef old = system.actorOf(Props.create(Log.class, () -> new Log("old")));
    for (int i = 1; i <= 4; i++) ask(old, "h" + i);
    assertEquals("saved", ask(old, "snapshot")); // h1..h4 at 4, in H2's snapshot table
    ask(old, "h5");
    assertEquals("deleted", ask(old, "delete:2"));
    stop();
    system = null;
    Config db = h2.getConfig("akka-persistence-jdbc.shared-databases.slick.db");
    Path journal = dir.resolve("journal");
    Path snapshots = dir.resolve("snapshots");
    assertTrue(H2Import.run(db, dir, journal, snapshots) > 1);
    assertTrue(Files.exists(dir.resolve("ripple.mv.db" + H2Import.IMPORTED_SUFFIX)), "the H2 file was not set aside");
    assertTrue(!Files.exists(dir.resolve("ripple.mv.db")), "the H2 file is still where a start would import it again");
    // H2 opens "<path>.mv.db": a copy of the set-aside file under such a name shows what is left in it
    Files.copy(dir.resolve("ripple.mv.db" + H2Import.IMPORTED_SUFFIX), dir.resolve("check.mv.db"));
    try (Connection c = DriverManager.getConnection("jdbc:h2:file:" + dir.resolve("check"), "sa", "");
        Statement s = c.createStatement()) {
      for (String table : List.of("event_journal", "snapshot")) {
        try (ResultSet r = s.executeQuery("SELECT COUNT(*) FROM \"" + table + "\"")) {
          r.next();
          assertEquals(0, r.getLong(1), "the imported rows are still in H2's " + table);
        }
      }
    }
    assertEquals(0, H2Import.run(db, dir, journal, snapshots), "a second start imported again");
    assertTrue(!Files.exists(dir.resolve("ripple.mv.db")), "the second start opened H2 again");
    ActorRef moved = start(dir, 64L << 20, "old");
    // from the snapshot (h1..h4: events 1 and 2 are deleted, so only the snapshot holds them), then event 5
    assertEquals(List.of("h1", "h2", "h3", "h4", "h5"), state(moved));
    ask(moved, "h6");
    assertEquals(6, seq(moved));
  }

}
