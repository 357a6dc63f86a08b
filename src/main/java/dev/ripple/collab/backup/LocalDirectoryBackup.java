package dev.ripple.collab.backup;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Backups as files in one directory, for embedded mode: one file per room, {@link #fileName} of
 * the room id. A file is a 16-byte header ({@link #MAGIC}, then the count of updates the state
 * covers as a big-endian long) followed by the state; a file without the header (written before
 * the count existed) is all state, covering 0 updates. A save covering fewer updates than the
 * room's file is not written (the newer state stays, and the save reports {@link SaveResult.KeptNewer}),
 * as Convex does. A save writes a temporary
 * file in the same directory ({@code .saving-*.tmp}), forces it to disk, renames it over the
 * room's file atomically and forces the directory, so a reader or a crash sees the old state or the
 * new one, never a part. Temporary files left by a crash are deleted when the backup is created
 * (one server owns a data directory).
 */
public final class LocalDirectoryBackup implements SnapshotBackup {
  /** Suffix of a room's file. */
  public static final String SUFFIX = ".ydoc";
  static final String TEMP_PREFIX = ".saving-";
  static final String TEMP_SUFFIX = ".tmp";
  /**
   * The start of a file with a count: a zero byte, "RIPPLE", format 1. No file of the old format
   * starts so: it held a full Yjs state, whose first byte (its number of clients) is 0 only for
   * the empty document {@code [0, 0]}, which is never saved.
   */
  static final byte[] MAGIC = {0, 'R', 'I', 'P', 'P', 'L', 'E', 1};
  static final int HEADER = MAGIC.length + Long.BYTES;
  /** Saves of one room check the stored count and write under one of these locks (by file name). */
  private static final int LOCK_STRIPES = 64;
  private static final int MAX_ENCODED = 200;
  private static final int HASHED_PREFIX = 128;
  private static final boolean WINDOWS = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");

  /** File I/O when the caller gives no executor: a few daemon threads, idle ones end after a minute. */
  static final ExecutorService DEFAULT_IO = defaultIo();

  private final Path dir;
  private final Executor io;
  private final Object[] locks = new Object[LOCK_STRIPES];

  public LocalDirectoryBackup(Path dir) {
    this(dir, DEFAULT_IO);
  }

  /**
   * Creates {@code dir} if needed and removes temporary files a crash left there.
   *
   * @param io runs the blocking file I/O (Akka's blocking dispatcher in the server)
   * @throws UncheckedIOException when the directory cannot be created or listed
   */
  public LocalDirectoryBackup(Path dir, Executor io) {
    this.dir = dir;
    this.io = io;
    for (int i = 0; i < locks.length; i++) locks[i] = new Object();
    try {
      Files.createDirectories(dir);
      try (DirectoryStream<Path> leftovers = Files.newDirectoryStream(dir, TEMP_PREFIX + "*" + TEMP_SUFFIX)) {
        for (Path leftover : leftovers) {
          Files.deleteIfExists(leftover);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot use the local backup directory " + dir.toAbsolutePath(), e);
    }
  }

  public Path dir() {
    return dir;
  }

  /** The file holding the room's backup. */
  public Path fileFor(String roomId) {
    return dir.resolve(fileName(roomId));
  }

  /**
   * A room id as a file name, injective and safe on every file system: the UTF-8 bytes, each byte
   * outside {@code [a-z0-9_-]} written as {@code %XX} (upper-case hex, so upper-case letters are
   * escaped too and names stay distinct on case-insensitive file systems; '.' is escaped, so no name
   * is "." or ".." or starts with a dot), then {@link #SUFFIX}. {@code doc-123} stays
   * {@code doc-123.ydoc}. An encoding longer than 200 characters is cut to its first 128 and
   * followed by {@code ~} and the SHA-256 of the id in hex ('~' never occurs otherwise).
   *
   * @throws IllegalArgumentException when the room id is not valid Unicode (a lone surrogate)
   */
  public static String fileName(String roomId) {
    ByteBuffer utf8;
    try {
      utf8 = StandardCharsets.UTF_8.newEncoder()
          .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
          .encode(CharBuffer.wrap(roomId));
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("room id is not valid Unicode: " + roomId, e);
    }
    byte[] bytes = new byte[utf8.remaining()];
    utf8.get(bytes);
    StringBuilder name = new StringBuilder(bytes.length + 16);
    for (byte b : bytes) {
      int c = b & 0xff;
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
        name.append((char) c);
      } else {
        name.append('%').append(HexFormat.of().withUpperCase().toHexDigits((byte) c));
      }
    }
    if (name.length() > MAX_ENCODED) {
      int cut = HASHED_PREFIX;
      // never cut inside an escape
      if (name.charAt(cut - 1) == '%') {
        cut -= 1;
      } else if (name.charAt(cut - 2) == '%') {
        cut -= 2;
      }
      name.setLength(cut);
      name.append('~').append(HexFormat.of().formatHex(sha256(bytes)));
    }
    return name.append(SUFFIX).toString();
  }

  @Override
  public CompletionStage<SaveResult> save(String roomId, byte[] state, long updates) {
    return onIo(roomId, "backup", () -> {
      if (updates < 0) throw new IllegalArgumentException("updates must be >= 0, not " + updates);
      Path target = fileFor(roomId);
      synchronized (locks[Math.floorMod(target.getFileName().hashCode(), LOCK_STRIPES)]) {
        long stored = storedUpdates(target);
        if (stored > updates) return new SaveResult.KeptNewer(OptionalLong.of(stored)); // older than the stored one
        write(target, header(updates), ByteBuffer.wrap(state));
      }
      return SaveResult.Stored.INSTANCE;
    });
  }

  @Override
  public CompletionStage<Optional<Backup>> load(String roomId) {
    return onIo(roomId, "loading the backup", () -> {
      try {
        return Optional.of(decode(Files.readAllBytes(fileFor(roomId))));
      } catch (NoSuchFileException e) {
        return Optional.empty();
      }
    });
  }

  /** The start of a room's file: {@link #MAGIC} and the count; the state follows. */
  static ByteBuffer header(long updates) {
    return ByteBuffer.allocate(HEADER).put(MAGIC).putLong(updates).flip();
  }

  /** A room's file read back; a file without the header is all state, covering 0 updates. */
  static Backup decode(byte[] file) throws IOException {
    if (!hasHeader(file, file.length)) return new Backup(file, 0);
    long updates = ByteBuffer.wrap(file, MAGIC.length, Long.BYTES).getLong();
    if (updates < 0) throw new IOException("backup file with a negative count of updates: " + updates);
    return new Backup(Arrays.copyOfRange(file, HEADER, file.length), updates);
  }

  private static boolean hasHeader(byte[] file, int length) {
    return length >= HEADER && Arrays.equals(file, 0, MAGIC.length, MAGIC, 0, MAGIC.length);
  }

  /** The count of the room's file, reading only its header; 0 when there is none or it has no header. */
  private static long storedUpdates(Path file) throws IOException {
    byte[] head = new byte[HEADER];
    int read = 0;
    try (InputStream in = Files.newInputStream(file)) {
      for (int n; read < HEADER && (n = in.read(head, read, HEADER - read)) > 0; ) read += n;
    } catch (NoSuchFileException e) {
      return 0;
    }
    return hasHeader(head, read) ? ByteBuffer.wrap(head, MAGIC.length, Long.BYTES).getLong() : 0;
  }

  private void write(Path target, ByteBuffer... content) throws IOException {
    Path temp = Files.createTempFile(dir, TEMP_PREFIX, TEMP_SUFFIX);
    try {
      try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        long left = 0;
        for (ByteBuffer b : content) left += b.remaining();
        while (left > 0) {
          left -= channel.write(content);
        }
        channel.force(true);
      }
      // rename(2) on POSIX, MoveFileEx(REPLACE_EXISTING) on Windows: replaces the old file atomically
      Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
      if (!WINDOWS) {
        // makes the rename itself durable; Windows cannot open a directory as a channel
        try (FileChannel directory = FileChannel.open(dir, StandardOpenOption.READ)) {
          directory.force(true);
        }
      }
    } finally {
      Files.deleteIfExists(temp);
    }
  }

  private interface IoAction<T> {
    T run() throws IOException;
  }

  /** Runs on the I/O executor; completes directly with a BackupException on any failure. */
  private <T> CompletionStage<T> onIo(String roomId, String action, IoAction<T> work) {
    CompletableFuture<T> result = new CompletableFuture<>();
    try {
      io.execute(() -> {
        try {
          result.complete(work.run());
        } catch (IOException | RuntimeException e) {
          result.completeExceptionally(new BackupException(roomId, BackupException.NO_STATUS,
              action + " of room " + roomId + " in " + dir.toAbsolutePath() + " failed: " + e, e));
        }
      });
    } catch (RuntimeException e) {
      result.completeExceptionally(new BackupException(roomId, BackupException.NO_STATUS,
          action + " of room " + roomId + " could not start: " + e, e));
    }
    return result;
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  private static ExecutorService defaultIo() {
    AtomicInteger n = new AtomicInteger();
    ThreadPoolExecutor pool = new ThreadPoolExecutor(4, 4, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), task -> {
      Thread t = new Thread(task, "ripple-local-backup-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }
}
