package dev.ripple.collab.backup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalDirectoryBackupTest {
  @TempDir
  Path dir;

  static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  List<String> files() throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
    }
  }

  /** A state whose every byte is {@code n} and whose length depends on {@code n}: a partial one shows. */
  static byte[] state(int n) {
    byte[] b = new byte[1 + (n % 7) * 50_000];
    java.util.Arrays.fill(b, (byte) n);
    return b;
  }

  @Test
  void saveThenLoadReturnsTheSameBytes() throws Exception {
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    byte[] state = {0, 0, 1, 2, 3};
    await(backup.save("doc-1", state, 1));
    assertArrayEquals(state, await(backup.load("doc-1")).orElseThrow().state());
  }

  @Test
  void loadOfAnUnknownRoomIsEmpty() throws Exception {
    assertEquals(Optional.empty(), await(new LocalDirectoryBackup(dir).load("doc-never-saved")));
  }

  @Test
  void aNewSaveReplacesTheOldState() throws Exception {
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    await(backup.save("doc-1", state(1), 1));
    await(backup.save("doc-1", state(2), 2));
    assertArrayEquals(state(2), await(backup.load("doc-1")).orElseThrow().state());
  }

  @Test
  void aSaveKeepsTheCountOfUpdatesItCovers() throws Exception {
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    await(backup.save("doc-1", state(3), 1234567890123L));
    SnapshotBackup.Backup loaded = await(backup.load("doc-1")).orElseThrow();
    assertArrayEquals(state(3), loaded.state());
    assertEquals(1234567890123L, loaded.updates());
  }

  @Test
  void anOlderSaveLandingAfterANewerOneDoesNotReplaceItAndIsReportedAsRefused() throws Exception {
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    assertEquals(SnapshotBackup.SaveResult.Stored.INSTANCE, await(backup.save("doc-1", state(2), 20)));
    // not confirmed: the file keeps the newer state, covering 20 updates
    assertEquals(new SnapshotBackup.SaveResult.KeptNewer(java.util.OptionalLong.of(20)), await(backup.save("doc-1", state(1), 19)));
    SnapshotBackup.Backup loaded = await(backup.load("doc-1")).orElseThrow();
    assertArrayEquals(state(2), loaded.state());
    assertEquals(20, loaded.updates());
    // an equal count is stored (a retried save)
    assertEquals(SnapshotBackup.SaveResult.Stored.INSTANCE, await(backup.save("doc-1", state(3), 20)));
    assertArrayEquals(state(3), await(backup.load("doc-1")).orElseThrow().state());
    assertEquals(List.of("doc-1.ydoc"), files());
  }

  @Test
  void concurrentSavesOfOneRoomKeepTheNewest() throws Exception {
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    List<CompletionStage<SnapshotBackup.SaveResult>> saves = new java.util.ArrayList<>();
    for (int i = 100; i >= 1; i--) saves.add(backup.save("doc-1", state(i), i));
    for (CompletionStage<SnapshotBackup.SaveResult> save : saves) await(save);
    SnapshotBackup.Backup loaded = await(backup.load("doc-1")).orElseThrow();
    assertEquals(100, loaded.updates());
    assertArrayEquals(state(100), loaded.state());
  }

  @Test
  void aFileFromBeforeTheCountIsAllStateAndCoversZeroUpdates() throws Exception {
    byte[] old = {1, 1, 1, 0, 5, 1, 4, 116, 101, 120, 116, 0}; // a Yjs full state, as saved before
    Files.write(dir.resolve("doc-1.ydoc"), old);
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    SnapshotBackup.Backup loaded = await(backup.load("doc-1")).orElseThrow();
    assertArrayEquals(old, loaded.state());
    assertEquals(0, loaded.updates());
    await(backup.save("doc-1", state(1), 0)); // any save replaces it
    assertArrayEquals(state(1), await(backup.load("doc-1")).orElseThrow().state());
  }

  @Test
  void stateThatLooksLikeTheHeaderStillRoundTrips() throws Exception {
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    byte[] tricky = LocalDirectoryBackup.header(7).array();
    await(backup.save("doc-1", tricky, 3));
    SnapshotBackup.Backup loaded = await(backup.load("doc-1")).orElseThrow();
    assertArrayEquals(tricky, loaded.state());
    assertEquals(3, loaded.updates());
  }

  @Test
  void fileNameKeepsPlainIdsReadable() {
    assertEquals("doc-123_abc.ydoc", LocalDirectoryBackup.fileName("doc-123_abc"));
  }

  @Test
  void fileNameEscapesEverythingElse() {
    assertEquals("doc-%41b%2E%3A%2F%20%C3%BC.ydoc", LocalDirectoryBackup.fileName("doc-Ab.:/ ü"));
    assertEquals("%2E%2E.ydoc", LocalDirectoryBackup.fileName(".."));
  }

  @Test
  void fileNamesDifferOnCaseInsensitiveFileSystems() {
    String upper = LocalDirectoryBackup.fileName("doc-A");
    String lower = LocalDirectoryBackup.fileName("doc-a");
    assertNotEquals(upper.toLowerCase(), lower.toLowerCase());
  }

  @Test
  void longRoomIdsGetAHashedNameThatFits() {
    String a = LocalDirectoryBackup.fileName("doc-" + "X".repeat(300) + "a");
    String b = LocalDirectoryBackup.fileName("doc-" + "X".repeat(300) + "b");
    assertNotEquals(a, b);
    assertTrue(a.length() <= 210, a);
    assertTrue(a.contains("~"), a);
  }

  @Test
  void roomIdsWithSpecialCharactersRoundTripAndStayInTheDirectory() throws Exception {
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    for (String id : List.of("../escape", "doc/with/slashes", "doc-a b&c", "DOC-x", "doc-x", "doc-😀")) {
      await(backup.save(id, id.getBytes(java.nio.charset.StandardCharsets.UTF_8), 1));
    }
    for (String id : List.of("../escape", "doc/with/slashes", "doc-a b&c", "DOC-x", "doc-x", "doc-😀")) {
      assertArrayEquals(id.getBytes(java.nio.charset.StandardCharsets.UTF_8), await(backup.load(id)).orElseThrow().state(), id);
    }
    assertEquals(6, files().size());
    assertFalse(Files.exists(dir.getParent().resolve("escape.ydoc")));
  }

  @Test
  void manySavesLeaveNoTemporaryFiles() throws Exception {
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    for (int i = 0; i < 50; i++) {
      await(backup.save("doc-1", state(i), i));
    }
    assertEquals(List.of("doc-1.ydoc"), files());
    assertArrayEquals(state(49), await(backup.load("doc-1")).orElseThrow().state());
  }

  @Test
  void aConcurrentReaderNeverSeesAPartialFile() throws Exception {
    LocalDirectoryBackup backup = new LocalDirectoryBackup(dir);
    await(backup.save("doc-1", state(0), 0));
    AtomicBoolean writing = new AtomicBoolean(true);
    ExecutorService reader = Executors.newSingleThreadExecutor();
    try {
      Future<Integer> reads = reader.submit(() -> {
        int n = 0;
        while (writing.get()) {
          SnapshotBackup.Backup read = LocalDirectoryBackup.decode(Files.readAllBytes(backup.fileFor("doc-1")));
          int v = read.state()[0];
          assertArrayEquals(state(v), read.state(), "read a partial or mixed file");
          assertEquals(v, read.updates(), "read a partial or mixed file");
          n++;
        }
        return n;
      });
      for (int i = 1; i <= 100; i++) {
        await(backup.save("doc-1", state(i), i));
      }
      writing.set(false);
      assertTrue(reads.get(30, TimeUnit.SECONDS) > 0);
    } finally {
      writing.set(false);
      reader.shutdownNow();
    }
    assertArrayEquals(state(100), await(backup.load("doc-1")).orElseThrow().state());
    assertEquals(List.of("doc-1.ydoc"), files());
  }

  @Test
  void temporaryFilesLeftByACrashAreRemovedAtStart() throws Exception {
    Files.write(dir.resolve(".saving-123.tmp"), new byte[] {1});
    Files.write(dir.resolve("doc-1.ydoc"), new byte[] {2});
    new LocalDirectoryBackup(dir);
    assertEquals(List.of("doc-1.ydoc"), files());
  }

  @Test
  void aFailedSaveCompletesWithBackupException() throws Exception {
    Path sub = dir.resolve("sub");
    LocalDirectoryBackup backup = new LocalDirectoryBackup(sub);
    // the directory is replaced by a plain file: nothing can be written there
    Files.delete(sub);
    Files.write(sub, new byte[] {1});
    BackupException e = ConvexBackupTest.failure(backup.save("doc-1", new byte[] {1}, 1));
    assertEquals(BackupException.NO_STATUS, e.status());
    assertEquals("doc-1", e.roomId());
  }
}
