package dev.ripple.collab.backup;

import java.io.IOException;
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
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;
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
 * the room id. A save writes a temporary file in the same directory ({@code .saving-*.tmp}),
 * forces it to disk, renames it over the room's file atomically and forces the directory, so a
 * reader or a crash sees the old state or the new one, never a part. Temporary files left by a
 * crash are deleted when the backup is created (one server owns a data directory).
 */
public final class LocalDirectoryBackup implements SnapshotBackup {
  /** Suffix of a room's file. */
  public static final String SUFFIX = ".ydoc";
  static final String TEMP_PREFIX = ".saving-";
  static final String TEMP_SUFFIX = ".tmp";
  private static final int MAX_ENCODED = 200;
  private static final int HASHED_PREFIX = 128;
  private static final boolean WINDOWS = System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("windows");

  /** File I/O when the caller gives no executor: a few daemon threads, idle ones end after a minute. */
  static final ExecutorService DEFAULT_IO = defaultIo();

  private final Path dir;
  private final Executor io;

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
  public CompletionStage<Void> save(String roomId, byte[] state) {
    return onIo(roomId, "backup", () -> {
      write(fileFor(roomId), state);
      return null;
    });
  }

  @Override
  public CompletionStage<Optional<byte[]>> load(String roomId) {
    return onIo(roomId, "loading the backup", () -> {
      try {
        return Optional.of(Files.readAllBytes(fileFor(roomId)));
      } catch (NoSuchFileException e) {
        return Optional.empty();
      }
    });
  }

  private void write(Path target, byte[] state) throws IOException {
    Path temp = Files.createTempFile(dir, TEMP_PREFIX, TEMP_SUFFIX);
    try {
      try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buffer = ByteBuffer.wrap(state);
        while (buffer.hasRemaining()) {
          channel.write(buffer);
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
