package dev.ripple.collab.bench;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The inputs that make-trace.mjs writes to {@code bench/out} (or to the folder named by the system
 * property {@code bench.out}): the update trace and the ~1 MB document state.
 */
final class BenchData {
  private BenchData() {}

  static Path dir() {
    return Path.of(System.getProperty("bench.out", "out"));
  }

  /** trace.bin: [uint32 BE length][update v1 bytes], repeated. */
  static byte[][] trace() {
    Path file = dir().resolve("trace.bin");
    List<byte[]> updates = new ArrayList<>();
    try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
      while (true) {
        int len;
        try {
          len = in.readInt();
        } catch (EOFException end) {
          break;
        }
        byte[] u = new byte[len];
        in.readFully(u);
        updates.add(u);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file.toAbsolutePath() + " (run make-trace.mjs first)", e);
    }
    return updates.toArray(new byte[0][]);
  }

  static byte[] read(String name) {
    Path file = dir().resolve(name);
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file.toAbsolutePath() + " (run make-trace.mjs first)", e);
    }
  }

  static byte[] doc1mb() {
    return read("doc1mb.bin");
  }
}
