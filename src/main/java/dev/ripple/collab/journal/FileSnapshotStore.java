package dev.ripple.collab.journal;

import akka.Done;
import akka.actor.ActorRef;
import akka.actor.ActorSystem;
import akka.dispatch.Futures;
import akka.japi.pf.ReceiveBuilder;
import akka.pattern.Patterns;
import akka.persistence.Persistence;
import akka.persistence.SelectedSnapshot;
import akka.persistence.SnapshotMetadata;
import akka.persistence.SnapshotSelectionCriteria;
import akka.persistence.snapshot.japi.SnapshotStore;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.PartialFunction;
import scala.concurrent.ExecutionContext;
import scala.concurrent.Future;
import scala.runtime.BoxedUnit;

/**
 * An Akka Persistence snapshot store in files, beside the {@link FileJournal} (single mode): a room's
 * start reads one small file instead of a row of H2 through slick, and single mode loads neither.
 *
 * <p><b>Layout.</b> One directory per persistence id ({@code <dir>/<id, escaped: see encode>/}), one file per
 * snapshot, {@code <sequence nr>-<timestamp>.snap}: {@code [int magic][int crc32c of the rest][int
 * serializer id][manifest][persistence id][long sequence nr][long timestamp][int length][payload]}. The
 * payload is the snapshot as its own serializer wrote it (the same bytes an H2 row held, so an import
 * copies them).
 *
 * <p><b>Atomic.</b> A snapshot is written to a temporary file in its directory, forced to the disk,
 * then renamed over to its name: a reader sees the whole file or none (whatever
 * {@code ripple-file-journal.fsync} says: Akka deletes the events a snapshot covers, so a snapshot
 * must be on the disk before that can happen). Then all but the newest {@link #KEEP} of that id are
 * deleted: Akka deletes events only up to the older of a room's two newest snapshots, so the one before
 * the newest plus the events after it is the same state.
 *
 * <p><b>Damage.</b> A snapshot that does not read back (checksum, length, its serializer refuses it) is
 * skipped with a warning for the one before it. If every candidate is damaged, the load fails (the
 * room does not start, and retries) rather than answering "no snapshot": a room must never come back
 * without the state its events were deleted for.
 *
 * <p><b>Threads.</b> Loads read and deserialize in a future on the dispatcher the store runs on, saves
 * write and force on the blocking-IO dispatcher; the directory of an id is only ever changed by whole
 * files appearing (rename) or disappearing, so neither needs a lock. The journal's lock on the data
 * directory keeps a second process out of both.
 */
public final class FileSnapshotStore extends SnapshotStore {
  private static final Logger log = LoggerFactory.getLogger(FileSnapshotStore.class);
  static final int MAGIC = 0x52535331; // "RSS1"
  /** Snapshots kept per persistence id. */
  static final int KEEP = 2;
  static final String SUFFIX = ".snap";
  private static final int MAX_STRING = 4096;

  /** Deletes every snapshot of the persistence ids that start with the prefix; answers {@link Done}. */
  public record DeleteAllWithPrefix(String prefix) {}

  /** Answers {@link Done} once the store runs (its directory exists and can be written). */
  public record Ping() {}

  /** The plugin's config path (application.conf). */
  public static final String PLUGIN = "ripple-file-snapshot-store";

  /** Whether {@code config}'s default snapshot store is this one. */
  public static boolean inUse(Config config) {
    return config.getString("akka.persistence.snapshot-store.plugin").equals(PLUGIN);
  }

  /**
   * Starts the store and waits until it runs: a store that cannot make its directory stops (Akka
   * logs why), and a server must then not open its port, where every room would time out in recovery.
   */
  public static void awaitRunning(ActorSystem system, Duration timeout) {
    ActorRef store = Persistence.get(system).snapshotStoreFor(PLUGIN, ConfigFactory.empty());
    try {
      Patterns.ask(store, new Ping(), timeout).toCompletableFuture().get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the snapshot store (" + system.settings().config().getString(PLUGIN + ".dir")
          + ") did not start within " + timeout.toSeconds() + " s (see the error logged before)", e);
    }
  }

  private final Path dir;
  private final Serialization serialization;
  private final ExecutionContext reads;
  private final ExecutionContext writes;

  public FileSnapshotStore(Config config) throws IOException {
    this.dir = Path.of(config.getString("dir"));
    Files.createDirectories(dir);
    this.serialization = SerializationExtension.get(context().system());
    this.reads = context().dispatcher();
    this.writes = context().system().dispatchers().lookup("akka.actor.default-blocking-io-dispatcher");
  }

  @Override
  public PartialFunction<Object, BoxedUnit> receivePluginInternal() {
    return ReceiveBuilder.create()
        .match(Ping.class, m -> sender().tell(Done.getInstance(), self()))
        .match(DeleteAllWithPrefix.class, m -> {
          try {
            deleteAllWithPrefix(dir, m.prefix());
            sender().tell(Done.getInstance(), self());
          } catch (IOException e) {
            sender().tell(new akka.actor.Status.Failure(e), self());
          }
        })
        .build().onMessage();
  }

  @Override
  public Future<Optional<SelectedSnapshot>> doLoadAsync(String persistenceId, SnapshotSelectionCriteria criteria) {
    return Futures.future(() -> load(persistenceId, criteria), reads);
  }

  @Override
  public Future<Void> doSaveAsync(SnapshotMetadata metadata, Object snapshot) {
    // snapshots are immutable (Akka's contract for them): serialized in the future, off the store's actor
    return Futures.future(() -> {
      Serializer serializer = serialization.findSerializerFor(snapshot);
      write(dir, new Stored(metadata.persistenceId(), metadata.sequenceNr(), metadata.timestamp(), serializer.identifier(),
          Serializers.manifestFor(serializer, snapshot), serializer.toBinary(snapshot)));
      return null;
    }, writes);
  }

  @Override
  public Future<Void> doDeleteAsync(SnapshotMetadata metadata) {
    return Futures.future(() -> {
      delete(metadata.persistenceId(), f -> f.sequenceNr == metadata.sequenceNr()
          && (metadata.timestamp() == 0 || f.timestamp == metadata.timestamp()));
      return null;
    }, writes);
  }

  @Override
  public Future<Void> doDeleteAsync(String persistenceId, SnapshotSelectionCriteria criteria) {
    return Futures.future(() -> {
      delete(persistenceId, f -> matches(criteria, f));
      return null;
    }, writes);
  }

  private static boolean matches(SnapshotSelectionCriteria c, FileName f) {
    return f.sequenceNr <= c.maxSequenceNr() && f.timestamp <= c.maxTimestamp()
        && f.sequenceNr >= c.minSequenceNr() && f.timestamp >= c.minTimestamp();
  }

  private Optional<SelectedSnapshot> load(String persistenceId, SnapshotSelectionCriteria criteria) throws IOException {
    Path idDir = dir.resolve(encode(persistenceId));
    for (int attempt = 0; ; attempt++) {
      int damaged = 0;
      boolean vanished = false;
      for (FileName f : list(idDir)) {
        if (!matches(criteria, f)) continue;
        Stored s;
        try {
          s = read(f.path);
        } catch (NoSuchFileException e) {
          vanished = true; // a newer snapshot's save removed it meanwhile: list again
          break;
        } catch (IOException e) {
          log.warn("snapshot store: {} is damaged ({}); trying the one before it", f.path, e.getMessage());
          damaged++;
          continue;
        }
        if (!s.persistenceId.equals(persistenceId) || s.sequenceNr != f.sequenceNr) {
          log.warn("snapshot store: {} holds {} #{}, not what its name says; trying the one before it", f.path, s.persistenceId, s.sequenceNr);
          damaged++;
          continue;
        }
        Object snapshot;
        try {
          snapshot = serialization.deserialize(s.payload, s.serializerId, s.manifest).get();
        } catch (Exception e) {
          log.warn("snapshot store: {} does not deserialize ({}); trying the one before it", f.path, e.toString());
          damaged++;
          continue;
        }
        return Optional.of(SelectedSnapshot.create(new SnapshotMetadata(persistenceId, s.sequenceNr, s.timestamp), snapshot));
      }
      if (vanished && attempt < 3) continue;
      if (damaged > 0) {
        throw new IOException("every snapshot of " + persistenceId + " in " + idDir + " is damaged (" + damaged
            + "): the room does not start without the state its deleted events are in (README, \"Journal damage\")");
      }
      return Optional.empty();
    }
  }

  private void delete(String persistenceId, Predicate<FileName> which) throws IOException {
    for (FileName f : list(dir.resolve(encode(persistenceId)))) {
      if (which.test(f)) Files.deleteIfExists(f.path);
    }
  }

  /** A snapshot as stored: its id, position, time, and serialized payload. */
  record Stored(String persistenceId, long sequenceNr, long timestamp, int serializerId, String manifest, byte[] payload) {}

  /** A snapshot file's name, parsed: newest (highest sequence nr, then latest timestamp) first in {@link #list}. */
  record FileName(Path path, long sequenceNr, long timestamp) {}

  /** The snapshot files of one id's directory, newest first (none if it does not exist). */
  static List<FileName> list(Path idDir) throws IOException {
    List<FileName> files = new ArrayList<>();
    try (Stream<Path> s = Files.list(idDir)) {
      s.forEach(p -> {
        String n = p.getFileName().toString();
        if (!n.endsWith(SUFFIX)) return;
        int dash = n.indexOf('-');
        try {
          files.add(new FileName(p, Long.parseLong(n.substring(0, dash)), Long.parseLong(n.substring(dash + 1, n.length() - SUFFIX.length()))));
        } catch (RuntimeException e) {
          // not one of ours
        }
      });
    } catch (NoSuchFileException e) {
      return files;
    }
    files.sort(Comparator.comparingLong(FileName::sequenceNr).thenComparingLong(FileName::timestamp).reversed());
    return files;
  }

  /**
   * Writes {@code s} atomically (temporary file, forced, renamed), then deletes all but the newest
   * {@link #KEEP} of its id. Blocks; also what the H2 import uses.
   */
  static void write(Path dir, Stored s) throws IOException {
    Path idDir = dir.resolve(encode(s.persistenceId));
    Files.createDirectories(idDir);
    String name = String.format("%019d-%019d%s", s.sequenceNr, s.timestamp, SUFFIX);
    Path tmp = idDir.resolve(".tmp-" + name + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
    try {
      try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        ByteBuffer b = bytes(s);
        while (b.hasRemaining()) c.write(b);
        c.force(true);
      }
      try {
        Files.move(tmp, idDir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the snapshot directory " + dir + " cannot rename atomically: " + e.getMessage(), e);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
    FileJournal.forceDirectory(idDir);
    List<FileName> files = list(idDir);
    for (int i = KEEP; i < files.size(); i++) Files.deleteIfExists(files.get(i).path);
  }

  /** The file's bytes for {@code s} (the layout in the class comment). */
  static ByteBuffer bytes(Stored s) {
    byte[] manifest = s.manifest.getBytes(StandardCharsets.UTF_8);
    byte[] id = s.persistenceId.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + 4 + 4 + manifest.length + 4 + id.length + 8 + 8 + 4 + s.payload.length);
    b.putInt(MAGIC).putInt(0).putInt(s.serializerId);
    b.putInt(manifest.length).put(manifest).putInt(id.length).put(id);
    b.putLong(s.sequenceNr).putLong(s.timestamp).putInt(s.payload.length).put(s.payload);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 8, b.position() - 8);
    b.putInt(4, (int) crc.getValue());
    return b.flip();
  }

  static Stored read(Path file) throws IOException {
    long size = Files.size(file);
    if (size > Integer.MAX_VALUE - 16) throw new IOException("too large: " + size + " bytes");
    byte[] all = Files.readAllBytes(file);
    ByteBuffer b = ByteBuffer.wrap(all);
    try {
      if (b.getInt() != MAGIC) throw new IOException("not a snapshot file (its first bytes)");
      int crc = b.getInt();
      CRC32C c = new CRC32C();
      c.update(all, 8, all.length - 8);
      if ((int) c.getValue() != crc) throw new IOException("checksum mismatch");
      int serializerId = b.getInt();
      String manifest = string(b);
      String id = string(b);
      long seq = b.getLong();
      long timestamp = b.getLong();
      int n = b.getInt();
      if (n != b.remaining()) throw new IOException("payload length " + n + " but " + b.remaining() + " bytes follow");
      byte[] payload = new byte[n];
      b.get(payload);
      return new Stored(id, seq, timestamp, serializerId, manifest, payload);
    } catch (java.nio.BufferUnderflowException e) {
      throw new IOException("cut short (" + all.length + " bytes)");
    }
  }

  private static String string(ByteBuffer b) throws IOException {
    int n = b.getInt();
    if (n < 0 || n > MAX_STRING || n > b.remaining()) throw new IOException("bad string length " + n);
    byte[] s = new byte[n];
    b.get(s);
    return new String(s, StandardCharsets.UTF_8);
  }

  /** Longest directory name: file systems allow 255 bytes; the rest is for a hash. */
  private static final int MAX_NAME = 160;

  /**
   * The directory name of a persistence id: {@code a-z 0-9 _ -} as they are, every other byte as
   * {@code %XX} (so two ids never share a directory on a case-insensitive file system, and no name is
   * {@code .} or {@code ..}); a name past {@link #MAX_NAME} is cut and ends in {@code ~} and a hash.
   */
  static String encode(String persistenceId) {
    StringBuilder sb = new StringBuilder();
    for (byte b : persistenceId.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') sb.append((char) c);
      else sb.append('%').append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
    }
    if (sb.length() <= MAX_NAME) return sb.toString();
    int cut = MAX_NAME - 34;
    while (cut > 0 && sb.lastIndexOf("%", cut - 1) > cut - 3) cut--; // never inside an escape
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(persistenceId.getBytes(StandardCharsets.UTF_8));
      return sb.substring(0, cut) + "~" + HexFormat.of().formatHex(hash, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The persistence id a directory holds: from its name, or (a cut name) from one of its files. */
  static Optional<String> persistenceIdOf(Path idDir) throws IOException {
    String name = idDir.getFileName().toString();
    if (name.indexOf('~') < 0) return Optional.of(URLDecoder.decode(name, StandardCharsets.UTF_8));
    for (FileName f : list(idDir)) {
      try {
        return Optional.of(read(f.path).persistenceId);
      } catch (IOException e) {
        // damaged or gone: another one
      }
    }
    return Optional.empty();
  }

  static void deleteAllWithPrefix(Path dir, String prefix) throws IOException {
    List<Path> gone = new ArrayList<>();
    List<Path> dirs = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir)) {
      s.filter(Files::isDirectory).forEach(dirs::add);
    }
    for (Path d : dirs) {
      if (persistenceIdOf(d).map(id -> id.startsWith(prefix)).orElse(false)) gone.add(d);
    }
    for (Path idDir : gone) {
      try (Stream<Path> files = Files.list(idDir)) {
        for (Path f : (Iterable<Path>) files::iterator) Files.deleteIfExists(f);
      }
      Files.deleteIfExists(idDir);
    }
  }
}
