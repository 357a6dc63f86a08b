package dev.ripple.collab.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.ActorRef;
import akka.actor.ActorSystem;
import akka.actor.Props;
import akka.pattern.Patterns;
import akka.persistence.Persistence;
import akka.persistence.SaveSnapshotSuccess;
import akka.persistence.SnapshotMetadata;
import akka.persistence.SnapshotProtocol;
import akka.persistence.SnapshotSelectionCriteria;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The file snapshot store through Akka Persistence: a persistent actor snapshots and recovers; damage, ids, races. */
class FileSnapshotStoreTest {
  private static final Duration T = Duration.ofSeconds(20);
  private ActorSystem system;

  @AfterEach
  void stop() throws Exception {
    FileJournalTest.terminate(system);
    system = null;
  }

  private static Config config(Path dir) {
    return ConfigFactory.parseMap(Map.of(
            "akka.persistence.journal.plugin", "ripple-file-journal",
            "akka.persistence.snapshot-store.plugin", FileSnapshotStore.PLUGIN,
            "akka.actor.provider", "local",
            "ripple.data-dir", dir.toString()))
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  private ActorRef start(Path dir, String id) throws Exception {
    stop();
    system = ActorSystem.create("snapshots", config(dir));
    return system.actorOf(Props.create(FileJournalTest.Log.class, () -> new FileJournalTest.Log(id)));
  }

  private static Object ask(ActorRef ref, Object m) {
    return Patterns.ask(ref, m, T).toCompletableFuture().join();
  }

  @SuppressWarnings("unchecked")
  private static List<String> state(ActorRef ref) {
    return (List<String>) ((List<Object>) ask(ref, "get")).get(0);
  }

  private static Object tryGet(ActorRef log) {
    try {
      return Patterns.ask(log, "get", Duration.ofSeconds(5)).toCompletableFuture().join();
    } catch (RuntimeException e) {
      return e;
    }
  }

  private static List<FileSnapshotStore.FileName> files(Path dir, String id) throws Exception {
    return FileSnapshotStore.list(dir.resolve("snapshots").resolve(FileSnapshotStore.encode(id)));
  }

  private static void corrupt(Path file) throws Exception {
    try (FileChannel c = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long at = c.size() - 3; // in the payload
      ByteBuffer b = ByteBuffer.allocate(1);
      c.read(b, at);
      c.write(ByteBuffer.wrap(new byte[] {(byte) (b.get(0) ^ 0x5a)}), at);
    }
  }

  @Test
  void aRecoveryStartsFromTheNewestSnapshotAndOnlyTheNewestTwoAreKept() throws Exception {
    Path dir = Files.createTempDirectory("snapshots");
    ActorRef log = start(dir, "Room|doc-1");
    for (int round = 1; round <= 4; round++) {
      ask(log, "e" + round);
      assertEquals("saved", ask(log, "snapshot"));
    }
    List<FileSnapshotStore.FileName> kept = files(dir, "Room|doc-1");
    assertEquals(List.of(4L, 3L), kept.stream().map(FileSnapshotStore.FileName::sequenceNr).toList());
    ask(log, "e5");
    assertEquals("deleted", ask(log, "snapshot-and-delete")); // events 1..5 gone: only the snapshot holds them
    log = start(dir, "Room|doc-1");
    assertEquals(List.of("e1", "e2", "e3", "e4", "e5"), state(log));
    ask(log, "e6");
    log = start(dir, "Room|doc-1");
    assertEquals(List.of("e1", "e2", "e3", "e4", "e5", "e6"), state(log));
  }

  @Test
  void aDamagedNewestSnapshotIsSkippedForTheOneBeforeAndItsEvents() throws Exception {
    Path dir = Files.createTempDirectory("snapshots");
    ActorRef log = start(dir, "Room|doc-2");
    ask(log, "e1");
    ask(log, "e2");
    assertEquals("saved", ask(log, "snapshot")); // at 2
    ask(log, "e3");
    assertEquals("saved", ask(log, "snapshot")); // at 3
    ask(log, "e4");
    stop();
    corrupt(files(dir, "Room|doc-2").get(0).path());
    // and a temporary file a save left when the machine stopped: never read
    Files.write(dir.resolve("snapshots").resolve(FileSnapshotStore.encode("Room|doc-2")).resolve(".tmp-9-9.snap-abc"), new byte[] {1, 2, 3});
    log = start(dir, "Room|doc-2");
    assertEquals(List.of("e1", "e2", "e3", "e4"), state(log)); // snapshot 2, then events 3 and 4
  }

  @Test
  void aRoomWhoseEverySnapshotIsDamagedDoesNotStartRatherThanStartEmpty() throws Exception {
    Path dir = Files.createTempDirectory("snapshots");
    ActorRef log = start(dir, "Room|doc-3");
    ask(log, "e1");
    assertEquals("saved", ask(log, "snapshot"));
    ask(log, "e2");
    assertEquals("deleted", ask(log, "snapshot-and-delete"));
    stop();
    for (FileSnapshotStore.FileName f : files(dir, "Room|doc-3")) corrupt(f.path());
    log = start(dir, "Room|doc-3");
    Object answer = tryGet(log);
    assertInstanceOf(RuntimeException.class, answer, "a room without its snapshots came back as " + answer);
    // another room of the same store is served
    ActorRef other = system.actorOf(Props.create(FileJournalTest.Log.class, () -> new FileJournalTest.Log("Room|doc-4")));
    ask(other, "x");
    assertEquals(List.of("x"), state(other));
  }

  @Test
  void everyIdHasADirectoryOfItsOwnEvenOnACaseInsensitiveFileSystem() throws Exception {
    List<String> ids = List.of("Room|doc-A", "Room|doc-a", "Room|doc-a.b", "Room|doc-a:b", "..", ".", "Room|" + "X".repeat(128),
        "Room|" + "X".repeat(127) + "y", "/sharding/RoomShard/12", "Room|dôc-ü");
    Set<String> folded = new HashSet<>();
    Path dir = Files.createTempDirectory("names");
    for (String id : ids) {
      String name = FileSnapshotStore.encode(id);
      assertTrue(folded.add(name.toLowerCase()), id + " shares " + name + " with another id on a case-insensitive file system");
      assertTrue(name.length() <= 200, name);
      assertFalse(name.startsWith("."), name);
      FileSnapshotStore.write(dir, new FileSnapshotStore.Stored(id, 1, 1, 1, "", new byte[] {7}));
      assertEquals(id, FileSnapshotStore.persistenceIdOf(dir.resolve(name)).orElseThrow());
    }
    assertNotEquals(FileSnapshotStore.encode(ids.get(6)), FileSnapshotStore.encode(ids.get(7)));
  }

  @Test
  void deleteAllWithAPrefixRemovesThoseIdsOnly() throws Exception {
    Path dir = Files.createTempDirectory("snapshots");
    start(dir, "unused");
    ActorRef store = Persistence.get(system).snapshotStoreFor(FileSnapshotStore.PLUGIN, ConfigFactory.empty());
    for (String id : List.of("Room|~warmup~1", "Room|~warmup~" + "w".repeat(300), "Room|doc-1")) {
      Object ok = ask(store, new SnapshotProtocol.SaveSnapshot(new SnapshotMetadata(id, 5, 5), "state of " + id));
      assertInstanceOf(SaveSnapshotSuccess.class, ok);
    }
    ask(store, new FileSnapshotStore.DeleteAllWithPrefix("Room|~warmup~"));
    try (var left = Files.list(dir.resolve("snapshots"))) {
      assertEquals(List.of(FileSnapshotStore.encode("Room|doc-1")), left.map(p -> p.getFileName().toString()).toList());
    }
  }

  @Test
  void loadsRacingSavesOfTheSameIdsAlwaysFindASnapshotAtLeastAsNewAsTheLastSaved() throws Exception {
    Path dir = Files.createTempDirectory("snapshots");
    start(dir, "unused");
    ActorRef store = Persistence.get(system).snapshotStoreFor(FileSnapshotStore.PLUGIN, ConfigFactory.empty());
    int ids = 40;
    int saves = 25;
    AtomicLongArray saved = new AtomicLongArray(ids);
    ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
    List<CompletableFuture<Void>> work = new ArrayList<>();
    for (int w = 0; w < 4; w++) {
      int first = w;
      work.add(CompletableFuture.runAsync(() -> { // writers: each id's saves in order, acknowledged one by one
        for (int seq = 1; seq <= saves; seq++) {
          for (int i = first; i < ids; i += 4) {
            Object ok = ask(store, new SnapshotProtocol.SaveSnapshot(new SnapshotMetadata("p" + i, seq, seq), "s" + seq));
            if (!(ok instanceof SaveSnapshotSuccess)) wrong.add("save " + i + "@" + seq + ": " + ok);
            saved.set(i, seq);
          }
        }
      }));
    }
    work.add(CompletableFuture.runAsync(() -> { // a reader: every id, over and over, until the writers are done
      for (int round = 0; round < 60; round++) {
        for (int i = 0; i < ids; i++) {
          long before = saved.get(i);
          Object r = ask(store, new SnapshotProtocol.LoadSnapshot("p" + i, SnapshotSelectionCriteria.latest(), Long.MAX_VALUE));
          if (!(r instanceof SnapshotProtocol.LoadSnapshotResult result)) {
            wrong.add("load " + i + ": " + r);
            continue;
          }
          long got = result.snapshot().isDefined() ? result.snapshot().get().metadata().sequenceNr() : 0;
          if (got < before) wrong.add("p" + i + " loaded #" + got + " after #" + before + " was saved");
        }
      }
    }));
    CompletableFuture.allOf(work.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
    assertEquals(List.of(), List.copyOf(wrong));
    for (int i = 0; i < ids; i++) {
      assertEquals(List.of((long) saves, saves - 1L), files(dir, "p" + i).stream().map(FileSnapshotStore.FileName::sequenceNr).toList());
    }
  }
}
