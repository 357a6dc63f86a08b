package dev.ripple.collab.journal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The record format of {@link FileJournal}'s segment files: {@code [int length][int crc32c][body]},
 * the body either the events of one write ({@link #EVENTS}) or a deletion marker
 * ({@link #DELETED_TO}). A growable buffer that records are written into, and the decoder.
 */
final class Records {
  static final byte EVENTS = 1;
  static final byte DELETED_TO = 2;
  static final int HEADER = 8;

  /** One event as stored: already serialized. */
  record Event(long seq, long timestamp, String writerUuid, String manifest, int serializerId,
      String serializerManifest, byte[] payload) {}

  private ByteBuffer out = ByteBuffer.allocateDirect(64 * 1024);
  private int recordStart = -1;

  void clear() {
    if (out.capacity() > 4 * 1024 * 1024) out = ByteBuffer.allocateDirect(64 * 1024); // after a very large update
    out.clear();
    recordStart = -1;
  }

  int position() {
    return out.position();
  }

  /** Forgets everything after {@code position} (a record that could not be completed). */
  void rewind(int position) {
    out.position(position);
    recordStart = -1;
  }

  /** Starts the events of one write of {@code persistenceId}: {@code count} calls of {@link #event} follow. */
  void beginEvents(String persistenceId, int count) {
    begin(EVENTS);
    putString(persistenceId);
    ensure(4);
    out.putInt(count);
  }

  void event(Event e) {
    ensure(40 + e.payload().length);
    out.putLong(e.seq());
    out.putLong(e.timestamp());
    putString(e.writerUuid());
    putString(e.manifest());
    ensure(4);
    out.putInt(e.serializerId());
    putString(e.serializerManifest());
    ensure(4 + e.payload().length);
    out.putInt(e.payload().length);
    out.put(e.payload());
  }

  void marker(String persistenceId, long deletedTo) {
    begin(DELETED_TO);
    putString(persistenceId);
    ensure(8);
    out.putLong(deletedTo);
    end();
  }

  /** A whole record body read from a segment, written again unchanged (compaction). */
  void copy(ByteBuffer body) {
    ensure(HEADER + body.remaining());
    recordStart = out.position();
    out.position(recordStart + HEADER);
    out.put(body);
    end();
  }

  private void begin(byte type) {
    ensure(HEADER + 1);
    recordStart = out.position();
    out.position(recordStart + HEADER);
    out.put(type);
  }

  /** Ends the current record: its length and checksum go in front of it. */
  void end() {
    int end = out.position();
    ByteBuffer body = out.duplicate();
    body.position(recordStart + HEADER).limit(end);
    CRC32C crc = new CRC32C();
    crc.update(body);
    out.putInt(recordStart, end - recordStart - HEADER);
    out.putInt(recordStart + 4, (int) crc.getValue());
    recordStart = -1;
  }

  /** The bytes written so far, ready to be written out (call {@link #clear} before reuse). */
  ByteBuffer flip() {
    out.flip();
    return out;
  }

  private void putString(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    ensure(4 + b.length);
    out.putInt(b.length);
    out.put(b);
  }

  private void ensure(int more) {
    if (out.remaining() >= more) return;
    ByteBuffer bigger = ByteBuffer.allocateDirect(Math.max(out.capacity() * 2, out.position() + more + 1024));
    out.flip();
    bigger.put(out);
    out = bigger;
  }

  static boolean checksumMatches(ByteBuffer body, int crc) {
    CRC32C c = new CRC32C();
    c.update(body.duplicate());
    return (int) c.getValue() == crc;
  }

  static byte type(ByteBuffer body) {
    return body.get(body.position());
  }

  static String persistenceId(ByteBuffer body) {
    ByteBuffer b = body.duplicate();
    b.get();
    return getString(b);
  }

  static long deletedTo(ByteBuffer body) {
    ByteBuffer b = body.duplicate();
    b.get();
    getString(b);
    return b.getLong();
  }

  static List<Event> events(ByteBuffer body) {
    ByteBuffer b = body.duplicate();
    if (b.get() != EVENTS) throw new IllegalStateException("not an events record");
    getString(b);
    int n = b.getInt();
    List<Event> events = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      long seq = b.getLong();
      long timestamp = b.getLong();
      String writer = getString(b);
      String manifest = getString(b);
      int serializerId = b.getInt();
      String serializerManifest = getString(b);
      byte[] payload = new byte[b.getInt()];
      b.get(payload);
      events.add(new Event(seq, timestamp, writer, manifest, serializerId, serializerManifest, payload));
    }
    return events;
  }

  private static String getString(ByteBuffer b) {
    byte[] bytes = new byte[b.getInt()];
    b.get(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
