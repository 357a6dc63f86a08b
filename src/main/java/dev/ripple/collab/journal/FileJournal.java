package dev.ripple.collab.journal;

import akka.actor.ActorRef;
import akka.dispatch.Futures;
import akka.persistence.AtomicWrite;
import akka.persistence.PersistentRepr;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.concurrent.Future;

/**
 * An Akka Persistence journal in append-only files, for one process (single mode). It replaces
 * H2 as the journal because a journal needs so little of a database: every write is an append,
 * every read is a room's recovery. H2 paid for a B-tree commit on every write (a chunk of its file,
 * written with {@code WRITE_DELAY=0}): about a third of the server's CPU per update
 * (bench/load/README.md, "Where the CPU goes").
 *
 * <p><b>Format.</b> Segment files {@code segment-<n>.log} of records, each
 * {@code [int length][int crc32c][body]}. A body is either an {@link AtomicWrite} (the events one
 * persist made, all or none: one record, one checksum) or a deletion marker (the persistence id's
 * events up to a sequence number are deleted, and that number is never forgotten, even when no
 * event is left). Records are written with one {@code write} per batch of the journal actor, to
 * the operating system before the write is acknowledged (like H2 with {@code WRITE_DELAY=0}: an
 * acknowledged update survives the process being killed; power loss needs PostgreSQL, which the
 * cluster mode uses).
 *
 * <p><b>Index.</b> In memory, rebuilt at start by reading every segment: per persistence id its
 * events' sequence numbers and where they are, the highest sequence number and what is deleted. A
 * torn record at the end of the last segment (the process died during a write, which was then not
 * acknowledged) is cut off with a warning; a bad record anywhere else stops the start.
 *
 * <p><b>Space.</b> Rooms snapshot and delete their old events, so whole segments die: a segment with
 * no live event and no needed marker is removed. A segment still pinned by a few live events is
 * compacted once the files hold more than {@code compact-ratio} times the live bytes: its live
 * records are appended again at the head and the segment removed.
 *
 * <p>Everything runs on the journal actor (Akka calls these methods one at a time), so the index
 * needs no locks.
 */
public final class FileJournal extends akka.persistence.journal.japi.AsyncWriteJournal {
  private static final Logger log = LoggerFactory.getLogger(FileJournal.class);
  private static final int HEADER = Records.HEADER;
  private static final int MAX_RECORD = 256 * 1024 * 1024;

  private final Path dir;
  private final long segmentBytes;
  private final double compactRatio;
  private final Serialization serialization;
  private final Map<String, Stream> streams = new HashMap<>();
  private final TreeMap<Long, Segment> segments = new TreeMap<>();
  private Segment head;
  private final Records out = new Records();
  private long liveBytes;
  private long fileBytes;

  public FileJournal(Config config) throws IOException {
    this.dir = Path.of(config.getString("dir"));
    this.segmentBytes = config.getBytes("segment-size");
    this.compactRatio = config.getDouble("compact-ratio");
    this.serialization = SerializationExtension.get(context().system());
    Files.createDirectories(dir);
    open();
  }

  // ------------------------------------------------------------------ the plugin API

  @Override
  public Future<Iterable<Optional<Exception>>> doAsyncWriteMessages(Iterable<AtomicWrite> messages) {
    List<Optional<Exception>> results = new ArrayList<>();
    List<Pending> pending = new ArrayList<>();
    out.clear();
    for (AtomicWrite write : messages) {
      int start = out.position();
      try {
        List<Long> seqs = encodeEvents(write);
        pending.add(new Pending(write.persistenceId(), seqs, start, out.position() - start));
        results.add(Optional.empty());
      } catch (RuntimeException e) {
        // this write only (its events could not be serialized): the room is told, the others go on
        out.rewind(start);
        results.add(Optional.of(e));
      }
    }
    try {
      long at = append();
      for (Pending p : pending) {
        Stream s = stream(p.persistenceId);
        // p.length includes the record's header; the index keeps the body's length
        for (int i = 0; i < p.seqs.size(); i++) s.put(p.seqs.get(i), head, at + p.offset, p.length - HEADER, i, p.length / p.seqs.size());
      }
      rollIfFull();
    } catch (IOException e) {
      return Futures.failed(e);
    }
    return Futures.successful(results);
  }

  @Override
  public Future<Void> doAsyncDeleteMessagesTo(String persistenceId, long toSequenceNr) {
    Stream s = streams.get(persistenceId);
    if (s == null || toSequenceNr <= s.deletedTo) return Futures.successful(null);
    long to = Math.min(toSequenceNr, s.highest);
    if (to <= s.deletedTo) return Futures.successful(null);
    try {
      writeMarker(persistenceId, to);
      s.deleteTo(to);
      collect();
    } catch (IOException e) {
      return Futures.failed(e);
    }
    return Futures.successful(null);
  }

  @Override
  public Future<Void> doAsyncReplayMessages(String persistenceId, long fromSequenceNr, long toSequenceNr, long max,
      Consumer<PersistentRepr> replayCallback) {
    Stream s = streams.get(persistenceId);
    if (s == null || max <= 0) return Futures.successful(null);
    try {
      long count = 0;
      long cachedSegment = -1;
      long cachedAt = -1;
      List<Records.Event> cached = null;
      for (int i = s.indexOf(fromSequenceNr); i < s.size && s.seqs[i] <= toSequenceNr && count < max; i++) {
        if (s.positions[i] != cachedAt || s.segmentIds[i] != cachedSegment) { // events of one write share a record
          cached = Records.events(read(s.segmentIds[i], s.positions[i], s.lengths[i]));
          cachedSegment = s.segmentIds[i];
          cachedAt = s.positions[i];
        }
        Records.Event e = cached.get(s.ordinals[i]);
        Object payload = serialization.deserialize(e.payload(), e.serializerId(), e.serializerManifest()).get();
        replayCallback.accept(PersistentRepr.apply(payload, e.seq(), persistenceId, e.manifest(), false, ActorRef.noSender(), e.writerUuid())
            .withTimestamp(e.timestamp()));
        count++;
      }
    } catch (IOException | RuntimeException e) {
      return Futures.failed(e);
    }
    return Futures.successful(null);
  }

  @Override
  public Future<Long> doAsyncReadHighestSequenceNr(String persistenceId, long fromSequenceNr) {
    Stream s = streams.get(persistenceId);
    return Futures.successful(s == null ? 0L : s.highest);
  }

  /**
   * Deletes every event of the persistence ids that start with {@code prefix} (a node's throwaway
   * warm-up rooms, dev.ripple.collab.Warmup); answered with {@link akka.Done} or a status failure.
   */
  public record DeleteAllWithPrefix(String prefix) {}

  /** Asks how many live (not deleted) events the persistence ids that start with {@code prefix} have; answered with a Long. */
  public record CountLiveEvents(String prefix) {}

  @Override
  public scala.PartialFunction<Object, scala.runtime.BoxedUnit> receivePluginInternal() {
    return akka.japi.pf.ReceiveBuilder.create().match(DeleteAllWithPrefix.class, m -> {
      try {
        for (Map.Entry<String, Stream> e : new ArrayList<>(streams.entrySet())) {
          if (e.getKey().startsWith(m.prefix()) && e.getValue().highest > e.getValue().deletedTo) {
            writeMarker(e.getKey(), e.getValue().highest);
            e.getValue().deleteTo(e.getValue().highest);
          }
        }
        collect();
        sender().tell(akka.Done.getInstance(), self());
      } catch (IOException e) {
        sender().tell(new akka.actor.Status.Failure(e), self());
      }
    }).match(CountLiveEvents.class, m -> {
      long n = 0;
      for (Map.Entry<String, Stream> e : streams.entrySet()) {
        if (e.getKey().startsWith(m.prefix())) n += e.getValue().size;
      }
      sender().tell(n, self());
    }).build().onMessage();
  }

  @Override
  public void postStop() throws Exception {
    for (Segment segment : segments.values()) segment.channel.close();
    super.postStop();
  }

  // ------------------------------------------------------------------ records

  private record Pending(String persistenceId, List<Long> seqs, int offset, int length) {}

  /** Encodes one AtomicWrite as one record into {@link #out}; returns its sequence numbers. */
  private List<Long> encodeEvents(AtomicWrite write) {
    List<Long> seqs = new ArrayList<>();
    out.beginEvents(write.persistenceId(), write.payload().size());
    scala.collection.Iterator<PersistentRepr> it = write.payload().iterator();
    while (it.hasNext()) {
      PersistentRepr repr = it.next();
      if (repr.metadata().isDefined()) throw new IllegalArgumentException("event metadata is not supported by this journal");
      Object payload = repr.payload();
      Serializer serializer = serialization.findSerializerFor(payload);
      out.event(new Records.Event(repr.sequenceNr(), repr.timestamp(), repr.writerUuid(), repr.manifest(),
          serializer.identifier(), Serializers.manifestFor(serializer, payload), serializer.toBinary(payload)));
      seqs.add(repr.sequenceNr());
    }
    out.end();
    return seqs;
  }

  private void writeMarker(String persistenceId, long to) throws IOException {
    out.clear();
    out.marker(persistenceId, to);
    append();
    stream(persistenceId).markerSegment = head.id;
    rollIfFull();
  }

  // ------------------------------------------------------------------ files

  private static final class Segment {
    final long id;
    final Path path;
    final FileChannel channel;
    long size;
    /** Events of this segment that are not deleted, and their share of its bytes. */
    long live;
    long liveBytes;

    Segment(long id, Path path, FileChannel channel, long size) {
      this.id = id;
      this.path = path;
      this.channel = channel;
      this.size = size;
    }
  }

  /** Appends {@link #out} (flipped here) to the head segment in one write; returns where it starts. */
  private long append() throws IOException {
    ByteBuffer b = out.flip();
    long at = head.size;
    int n = b.remaining();
    try {
      while (b.hasRemaining()) head.channel.write(b, at + (n - b.remaining()));
    } catch (IOException e) {
      // a write that failed halfway (disk full) must not leave a torn record before the next one
      try {
        head.channel.truncate(at);
      } catch (IOException again) {
        e.addSuppressed(again);
      }
      throw e;
    }
    head.size += n;
    fileBytes += n;
    return at;
  }

  private ByteBuffer read(long segmentId, long at, int length) throws IOException {
    return read(segments.get(segmentId), at, length);
  }

  private Segment openSegment(long id) throws IOException {
    Path path = dir.resolve(String.format("segment-%016d.log", id));
    FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    Segment segment = new Segment(id, path, channel, channel.size());
    segments.put(id, segment);
    return segment;
  }

  private void rollIfFull() throws IOException {
    if (head.size >= segmentBytes) head = openSegment(head.id + 1);
  }

  /** Reads every segment into the index, cuts a torn tail off the last one, opens the head. */
  private void open() throws IOException {
    List<Long> ids = new ArrayList<>();
    try (var files = Files.list(dir)) {
      files.map(p -> p.getFileName().toString()).filter(n -> n.matches("segment-\\d{16}\\.log"))
          .forEach(n -> ids.add(Long.parseLong(n.substring(8, 24))));
    }
    ids.sort(null);
    for (int k = 0; k < ids.size(); k++) {
      Segment segment = openSegment(ids.get(k));
      scan(segment, k == ids.size() - 1);
      fileBytes += segment.size;
    }
    head = segments.isEmpty() ? openSegment(1) : segments.lastEntry().getValue();
    rollIfFull();
    log.info("journal: {} persistence ids, {} segments, {} of {} bytes live, in {}", streams.size(), segments.size(),
        liveBytes, fileBytes, dir.toAbsolutePath());
  }

  private void scan(Segment segment, boolean last) throws IOException {
    long at = 0;
    long size = segment.channel.size();
    ByteBuffer header = ByteBuffer.allocate(HEADER);
    while (at < size) {
      String problem = null;
      ByteBuffer body = null;
      header.clear();
      if (size - at < HEADER) {
        problem = "a record header cut short";
      } else {
        while (header.hasRemaining()) segment.channel.read(header, at + header.position());
        int length = header.getInt(0);
        if (length <= 0 || length > MAX_RECORD || at + HEADER + length > size) {
          problem = "a record cut short";
        } else {
          body = read(segment, at, length);
          if (!Records.checksumMatches(body, header.getInt(4))) problem = "a record whose checksum does not match";
        }
      }
      if (problem != null) {
        if (!last) throw new IOException("journal segment " + segment.path + " holds " + problem + " at byte " + at + ": refusing to start");
        log.warn("journal: the last segment ends in {} at byte {} of {} (the process stopped during a write, which was "
            + "not acknowledged): cut off", problem, at, size);
        segment.channel.truncate(at);
        size = at;
        break;
      }
      int length = body.remaining();
      index(segment, at, body, length);
      at += HEADER + length;
    }
    segment.size = size;
  }

  /** The body of the record at {@code at} in {@code segment}. */
  private static ByteBuffer read(Segment segment, long at, int length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length);
    while (b.hasRemaining()) {
      if (segment.channel.read(b, at + HEADER + b.position()) < 0) throw new IOException("journal segment ended early: " + segment.path);
    }
    b.flip();
    return b;
  }

  private void index(Segment segment, long at, ByteBuffer body, int length) {
    byte type = Records.type(body);
    Stream s = stream(Records.persistenceId(body));
    if (type == Records.EVENTS) {
      List<Records.Event> events = Records.events(body);
      for (int i = 0; i < events.size(); i++) {
        if (events.get(i).seq() <= s.deletedTo) continue; // a compacted copy of an event deleted since
        s.put(events.get(i).seq(), segment, at, length, i, (HEADER + length) / events.size());
      }
    } else if (type == Records.DELETED_TO) {
      long to = Records.deletedTo(body);
      if (to > s.deletedTo) s.deleteTo(to);
      s.markerSegment = segment.id;
    } else {
      throw new IllegalStateException("unknown journal record type " + type + " in " + segment.path);
    }
  }

  // ------------------------------------------------------------------ space

  /**
   * Removes dead segments; when the files hold more than compact-ratio times the live bytes,
   * compacts the segment with the least live bytes, if at most half of it is live.
   */
  private void collect() throws IOException {
    for (Segment segment : new ArrayList<>(segments.values())) {
      if (segment != head && segment.live == 0) drop(segment);
    }
    if (fileBytes > segmentBytes && fileBytes > compactRatio * Math.max(liveBytes, 1)) {
      Segment emptiest = null;
      for (Segment segment : segments.values()) {
        if (segment != head && (emptiest == null || segment.liveBytes < emptiest.liveBytes)) emptiest = segment;
      }
      if (emptiest != null && emptiest.liveBytes * 2 <= emptiest.size) compact(emptiest);
    }
  }

  /** Appends the records of {@code segment} that hold live events again at the head, then drops it. */
  private void compact(Segment segment) throws IOException {
    log.info("journal: compacting {} ({} live events, {} of {} bytes)", segment.path.getFileName(), segment.live,
        segment.liveBytes, segment.size);
    Map<Long, long[]> moved = new HashMap<>(); // old record position -> {segment id, new position}
    for (Stream s : streams.values()) {
      for (int i = 0; i < s.size; i++) {
        if (s.segmentIds[i] != segment.id) continue;
        long[] where = moved.get(s.positions[i]);
        if (where == null) {
          out.clear();
          out.copy(read(segment.id, s.positions[i], s.lengths[i]));
          long at = append();
          where = new long[] {head.id, at};
          moved.put(s.positions[i], where);
          rollIfFull(); // the next record may go to a new head; this one stays where it was written
        }
        Segment to = segments.get(where[0]);
        segment.live--;
        segment.liveBytes -= s.shares[i];
        to.live++;
        to.liveBytes += s.shares[i];
        s.segmentIds[i] = where[0];
        s.positions[i] = where[1];
      }
    }
    drop(segment);
  }

  /** Removes a segment without live events, after carrying the deletion markers still needed to the head. */
  private void drop(Segment segment) throws IOException {
    for (Map.Entry<String, Stream> entry : streams.entrySet()) {
      if (entry.getValue().markerSegment == segment.id) writeMarker(entry.getKey(), entry.getValue().deletedTo);
    }
    segments.remove(segment.id);
    segment.channel.close();
    Files.deleteIfExists(segment.path);
    fileBytes -= segment.size;
  }

  // ------------------------------------------------------------------ index

  private Stream stream(String persistenceId) {
    return streams.computeIfAbsent(persistenceId, k -> new Stream());
  }

  /** One persistence id's live events, by sequence number, and its deletion state. */
  private final class Stream {
    long[] seqs = new long[4];
    long[] segmentIds = new long[4];
    long[] positions = new long[4];
    int[] lengths = new int[4];
    int[] ordinals = new int[4];
    int[] shares = new int[4];
    int size;
    long highest;
    long deletedTo;
    long markerSegment = -1;

    void put(long seq, Segment segment, long at, int length, int ordinal, int share) {
      highest = Math.max(highest, seq);
      int i = size > 0 && seqs[size - 1] < seq ? size : indexOf(seq);
      if (i < size && seqs[i] == seq) { // a second copy (a compaction was interrupted): the later one wins
        unaccount(i);
      } else {
        grow();
        System.arraycopy(seqs, i, seqs, i + 1, size - i);
        System.arraycopy(segmentIds, i, segmentIds, i + 1, size - i);
        System.arraycopy(positions, i, positions, i + 1, size - i);
        System.arraycopy(lengths, i, lengths, i + 1, size - i);
        System.arraycopy(ordinals, i, ordinals, i + 1, size - i);
        System.arraycopy(shares, i, shares, i + 1, size - i);
        size++;
      }
      seqs[i] = seq;
      segmentIds[i] = segment.id;
      positions[i] = at;
      lengths[i] = length;
      ordinals[i] = ordinal;
      shares[i] = share;
      segment.live++;
      segment.liveBytes += share;
      liveBytes += share;
    }

    private void unaccount(int i) {
      Segment segment = segments.get(segmentIds[i]);
      if (segment != null) {
        segment.live--;
        segment.liveBytes -= shares[i];
      }
      liveBytes -= shares[i];
    }

    /** The first index whose sequence number is at least {@code seq}. */
    int indexOf(long seq) {
      int lo = 0;
      int hi = size;
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (seqs[mid] < seq) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }

    void deleteTo(long to) {
      deletedTo = Math.max(deletedTo, to);
      highest = Math.max(highest, to);
      int n = indexOf(to + 1);
      for (int i = 0; i < n; i++) unaccount(i);
      System.arraycopy(seqs, n, seqs, 0, size - n);
      System.arraycopy(segmentIds, n, segmentIds, 0, size - n);
      System.arraycopy(positions, n, positions, 0, size - n);
      System.arraycopy(lengths, n, lengths, 0, size - n);
      System.arraycopy(ordinals, n, ordinals, 0, size - n);
      System.arraycopy(shares, n, shares, 0, size - n);
      size -= n;
    }

    private void grow() {
      if (size < seqs.length) return;
      int n = seqs.length * 2;
      seqs = java.util.Arrays.copyOf(seqs, n);
      segmentIds = java.util.Arrays.copyOf(segmentIds, n);
      positions = java.util.Arrays.copyOf(positions, n);
      lengths = java.util.Arrays.copyOf(lengths, n);
      ordinals = java.util.Arrays.copyOf(ordinals, n);
      shares = java.util.Arrays.copyOf(shares, n);
    }
  }
}
