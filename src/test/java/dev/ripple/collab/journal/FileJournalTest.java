package dev.ripple.collab.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.ActorRef;
import akka.actor.ActorSystem;
import akka.actor.Props;
import akka.pattern.Patterns;
import akka.persistence.AbstractPersistentActor;
import akka.persistence.DeleteMessagesSuccess;
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
    if (system != null) {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
  }

  /** A log of strings: "add" persists one, "add2" two in one write, "delete:N" deletes to N, "get" answers the state. */
  static final class Log extends AbstractPersistentActor {
    private final String id;
    private final List<String> state = new ArrayList<>();
    private ActorRef deleteAsker;

    Log(String id) {
      this.id = id;
    }

    @Override
    public String persistenceId() {
      return id;
    }

    @Override
    public Receive createReceiveRecover() {
      return receiveBuilder().match(String.class, state::add).build();
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder()
          .matchEquals("get", m -> getSender().tell(List.of(List.copyOf(state), lastSequenceNr()), getSelf()))
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

  private static Config config(Path dir, long segmentSize) {
    return ConfigFactory.parseMap(Map.of(
            "akka.persistence.journal.plugin", "ripple-file-journal",
            "akka.persistence.snapshot-store.plugin", "",
            "akka.actor.provider", "local",
            "ripple.data-dir", dir.toString(),
            "ripple-file-journal.segment-size", segmentSize))
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  private ActorRef start(Path dir, long segmentSize, String id) throws Exception {
    if (system != null) stop();
    system = ActorSystem.create("journal", config(dir, segmentSize));
    return system.actorOf(Props.create(Log.class, () -> new Log(id)));
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
    assertEquals("deleted", ask(log, "delete:5"));
    log = start(dir, 64L << 20, "p");
    assertEquals(List.of(), state(log));
    assertEquals(5, seq(log), "the highest sequence number was forgotten with the events");
    ask(log, "e6");
    log = start(dir, 64L << 20, "p");
    assertEquals(List.of("e6"), state(log));
    assertEquals(6, seq(log));
  }

  @Test
  void aTornLastRecordIsCutOffAndTheRestKept() throws Exception {
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
    ask(log, "after");
    log = start(dir, 64L << 20, "p");
    assertEquals(List.of("kept1", "kept2", "after"), state(log));
  }

  @Test
  void aCorruptRecordBeforeTheLastSegmentStopsTheStart() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    ActorRef log = start(dir, 256, "p"); // tiny segments: every write starts a new one
    for (int i = 0; i < 4; i++) ask(log, "event-" + i);
    stop();
    system = null;
    Path first = segments(dir).get(0);
    try (FileChannel c = FileChannel.open(first, StandardOpenOption.WRITE)) {
      c.write(ByteBuffer.wrap(new byte[] {42}), 20); // inside the first record's body
    }
    log = start(dir, 256, "p");
    // the journal actor fails to start: the persistent actor's recovery fails, and it stops
    Object answer;
    try {
      answer = Patterns.ask(log, "get", Duration.ofSeconds(5)).toCompletableFuture().join();
    } catch (RuntimeException e) {
      answer = e;
    }
    assertTrue(answer instanceof RuntimeException, "recovered from a corrupt journal: " + answer);
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
    assertEquals(40, seq(again("churn-7")), "a deleted stream's sequence number was lost in compaction");
  }

  @Test
  void eventsJournaledIntoH2BeforeAreMovedIntoTheFiles() throws Exception {
    Path dir = Files.createTempDirectory("journal");
    Config h2 = ConfigFactory.parseMap(Map.of(
            "akka.persistence.journal.plugin", "jdbc-journal", "akka.actor.provider", "local", "ripple.data-dir", dir.toString()))
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve();
    system = ActorSystem.create("h2", h2);
    akka.persistence.jdbc.testkit.javadsl.SchemaUtils.createIfNotExists(system).toCompletableFuture().get(30, TimeUnit.SECONDS);
    ActorRef old = system.actorOf(Props.create(Log.class, () -> new Log("old")));
    for (int i = 1; i <= 4; i++) ask(old, "h" + i);
    assertEquals("deleted", ask(old, "delete:2"));
    stop();
    system = null;
    Config db = h2.getConfig("akka-persistence-jdbc.shared-databases.slick.db");
    assertTrue(H2JournalImport.run(db, dir.resolve("journal")) > 0);
    try (Connection c = DriverManager.getConnection(db.getString("url"), "sa", ""); Statement s = c.createStatement();
        ResultSet r = s.executeQuery("SELECT COUNT(*) FROM \"event_journal\"")) {
      r.next();
      assertEquals(0, r.getLong(1), "the imported rows are still in H2");
    }
    assertEquals(0, H2JournalImport.run(db, dir.resolve("journal")), "a second start imported again");
    ActorRef moved = start(dir, 64L << 20, "old");
    assertEquals(List.of("h3", "h4"), state(moved));
    ask(moved, "h5");
    assertEquals(5, seq(moved));
  }
}
