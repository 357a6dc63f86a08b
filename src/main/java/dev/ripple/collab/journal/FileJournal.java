package dev.ripple.collab.journal;

import akka.Done;
import akka.actor.ActorRef;
import akka.actor.Status;
import akka.dispatch.Futures;
import akka.japi.pf.ReceiveBuilder;
import akka.persistence.AtomicWrite;
import akka.persistence.PersistentRepr;
import akka.persistence.journal.japi.AsyncWriteJournal;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializer;
import akka.serialization.Serializers;
import com.typesafe.config.Config;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.PartialFunction;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;
import scala.runtime.BoxedUnit;

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
 * events up to a sequence number are deleted). Records are written with one {@code write} per batch
 * of the journal actor, to the operating system before the write is acknowledged (an acknowledged
 * update survives the process being killed); with {@code fsync = on} the batch is also forced to
 * the disk first (one force per batch: an acknowledged update survives a power loss too).
 *
 * <p><b>Index.</b> In memory, rebuilt at start by reading every segment: per persistence id its
 * live events' sequence numbers and where they are, and what is deleted. A persistence id whose
 * events are all deleted is forgotten (its highest sequence number then comes from the snapshot
 * its events were deleted for: Akka deletes events only after a snapshot covers them, and recovery
 * takes the larger of the two); its marker is carried along only while an older segment may still
 * hold its deleted events.
 *
 * <p><b>Damage.</b> A record torn at the very end of the last segment (the process or the machine
 * stopped during a write) is cut off with a warning; its bytes are kept in {@code damaged/}. A bad
 * record followed by valid ones is damage, not a torn write: by default ({@code on-damage =
 * refuse}) the journal refuses to start and says where; with {@code on-damage = skip} it keeps
 * every valid record, copies the damaged bytes to {@code damaged/}, and quarantines the persistence
 * id the damaged record names (listed in the file {@code quarantine}): that room refuses to
 * recover, so it never comes back without its events and saves over its backup, while every other
 * room is served. A journal that cannot start (damage, a directory another process holds) answers
 * {@link Health} with the reason, which {@code Main} and the readiness check read.
 *
 * <p><b>Space.</b> Rooms snapshot and delete their old events, so whole segments die: a segment with
 * no live event and no needed marker is removed. A segment still pinned by a few live events is
 * compacted once the files hold more than {@code compact-ratio} times the live bytes: its live
 * records are appended again at the head, forced to the disk, and only then is the segment removed.
 *
 * <p><b>Threads.</b> Akka calls the write, delete and highest-sequence-number methods on the
 * journal actor, one at a time, but runs the replay in a future on the dispatcher. A replay
 * therefore only asks the actor ({@link Read}) for the stored events of its range, which the actor
 * reads between writes, and deserializes them off the actor: the index and the files are touched by
 * the actor alone and need no locks.
 */
public final class FileJournal extends AsyncWriteJournal {
  private static final Logger log = LoggerFactory.getLogger(FileJournal.class);
  private static final int HEADER = Records.HEADER;
  /** The largest record body, written or read: a larger write is refused, so every stored record can be read back. */
  static final int MAX_RECORD = 256 * 1024 * 1024;
  private static final int MAX_PERSISTENCE_ID = 4096;
  static final String QUARANTINE = "quarantine";
  static final String DAMAGED = "damaged";
  static final String LOCK = "lock";

  /**
   * Sees every force and every segment deletion ({@code "force <files>"}, {@code "delete <file>"}),
   * every change of the index ({@code "write"}) and the span of every replay's read of it
   * ({@code "read-begin <id>"} ... {@code "read-end <id>"}), in order: how a test proves that a delete
   * never outruns the force of its copy, and that no write lands inside a replay's read. Null
   * (nothing is told) outside such a test.
   */
  static volatile Consumer<String> fileEvents;

  private static void told(String event) {
    Consumer<String> c = fileEvents;
    if (c != null) c.accept(event);
  }

  /** What to do with a bad record followed by valid ones (see the class comment). */
  enum OnDamage { REFUSE, SKIP }

  private final Path dir;
  private final long segmentBytes;
  private final double compactRatio;
  private final boolean fsync;
  private final long maxWrite;
  private final OnDamage onDamage;
  private final Executor dispatcher;
  private final Serialization serialization;
  private final Map<String, Stream> streams = new HashMap<>();
  /** Persistence ids whose events are all deleted, while an older segment may still hold some of them. */
  private final Map<String, Forgotten> forgotten = new HashMap<>();
  private final TreeMap<Long, Segment> segments = new TreeMap<>();
  private final Set<String> quarantined = new LinkedHashSet<>();
  private Segment head;
  private final Records out = new Records();
  private long liveBytes;
  private long fileBytes;
  private FileChannel lockChannel;
  /** Why the journal did not start (every call then fails with it), or null. */
  private final String failure;

  public FileJournal(Config config) {
    this.dir = Path.of(config.getString("dir"));
    this.segmentBytes = config.getBytes("segment-size");
    this.compactRatio = config.getDouble("compact-ratio");
    this.fsync = config.hasPath("fsync") && config.getBoolean("fsync");
    this.maxWrite = Math.min(MAX_RECORD, config.hasPath("max-record-size") ? config.getBytes("max-record-size") : MAX_RECORD);
    this.onDamage = config.hasPath("on-damage")
        ? OnDamage.valueOf(config.getString("on-damage").strip().toUpperCase(Locale.ROOT)) : OnDamage.REFUSE;
    this.serialization = SerializationExtension.get(context().system());
    this.dispatcher = context().dispatcher();
    String why = null;
    try {
      Files.createDirectories(dir);
      lock();
      open();
    } catch (IOException | RuntimeException e) {
      why = e.getMessage() == null ? e.toString() : e.getMessage();
      log.error("journal: cannot start: {}", why);
      closeAll();
    }
    this.failure = why;
  }

  // ------------------------------------------------------------------ the plugin API

  @Override
  public Future<Iterable<Optional<Exception>>> doAsyncWriteMessages(Iterable<AtomicWrite> messages) {
    if (failure != null) return Futures.failed(unavailable());
    told("write");
    List<Optional<Exception>> results = new ArrayList<>();
    List<Pending> pending = new ArrayList<>();
    out.clear();
    for (AtomicWrite write : messages) {
      int start = out.position();
      try {
        if (quarantined.contains(write.persistenceId())) throw new QuarantinedException(write.persistenceId(), dir);
        List<Long> seqs = encodeEvents(write);
        if (out.position() - start - HEADER > maxWrite) {
          throw new IllegalArgumentException("a write of " + (out.position() - start - HEADER) + " bytes is over the journal's"
              + " largest record (" + maxWrite + " bytes, ripple-file-journal.max-record-size)");
        }
        pending.add(new Pending(write.persistenceId(), seqs, start, out.position() - start));
        results.add(Optional.empty());
      } catch (RuntimeException e) {
        // this write only (its events could not be serialized, or are too large): the room is told, the others go on
        out.rewind(start);
        results.add(Optional.of(e));
      }
    }
    try {
      Segment written = head;
      long at = append();
      if (fsync) written.channel.force(false); // group commit: one force for the whole batch, before any acknowledgement
      for (Pending p : pending) {
        Stream s = stream(p.persistenceId);
        // p.length includes the record's header; the index keeps the body's length
        for (int i = 0; i < p.seqs.size(); i++) s.put(p.seqs.get(i), written, at + p.offset, p.length - HEADER, i, p.length / p.seqs.size());
      }
    } catch (IOException e) {
      return Futures.failed(e);
    }
    rollIfFullQuietly(); // the batch is stored: a failed roll must not report it failed
    return Futures.successful(results);
  }

  @Override
  public Future<Void> doAsyncDeleteMessagesTo(String persistenceId, long toSequenceNr) {
    if (failure != null) return Futures.failed(unavailable());
    Stream s = streams.get(persistenceId);
    if (s == null || toSequenceNr <= s.deletedTo) return Futures.successful(null);
    long to = Math.min(toSequenceNr, s.highest);
    if (to <= s.deletedTo) return Futures.successful(null);
    told("write");
    try {
      writeMarker(persistenceId, to);
      s.deleteTo(to);
      forgetIfEmpty(persistenceId, s);
      collect();
    } catch (IOException e) {
      return Futures.failed(e);
    }
    return Futures.successful(null);
  }

  @Override
  public Future<Void> doAsyncReplayMessages(String persistenceId, long fromSequenceNr, long toSequenceNr, long max,
      Consumer<PersistentRepr> replayCallback) {
    // not on the actor (Akka runs this in a future): the actor reads the stored events between its writes
    CompletableFuture<List<Records.Event>> stored = new CompletableFuture<>();
    self().tell(new Read(persistenceId, fromSequenceNr, toSequenceNr, max, stored), ActorRef.noSender());
    return FutureConverters.asScala(stored.thenAcceptAsync(events -> {
      for (Records.Event e : events) {
        Object payload = serialization.deserialize(e.payload(), e.serializerId(), e.serializerManifest()).get();
        replayCallback.accept(PersistentRepr.apply(payload, e.seq(), persistenceId, e.manifest(), false, ActorRef.noSender(), e.writerUuid())
            .withTimestamp(e.timestamp()));
      }
    }, dispatcher));
  }

  @Override
  public Future<Long> doAsyncReadHighestSequenceNr(String persistenceId, long fromSequenceNr) {
    if (failure != null) return Futures.failed(unavailable());
    if (quarantined.contains(persistenceId)) return Futures.failed(new QuarantinedException(persistenceId, dir));
    Stream s = streams.get(persistenceId);
    return Futures.successful(s == null ? 0L : s.highest);
  }

  /** Asks the actor for a replay's stored events (see the class comment); answered through {@code result}. */
  private record Read(String persistenceId, long from, long to, long max, CompletableFuture<List<Records.Event>> result) {}

  /**
   * Deletes every event of the persistence ids that start with {@code prefix} (a node's throwaway
   * warm-up rooms, dev.ripple.collab.node.Warmup); answered with {@link akka.Done} or a status failure.
   */
  public record DeleteAllWithPrefix(String prefix) {}

  /** Asks how many live (not deleted) events the persistence ids that start with {@code prefix} have; answered with a Long. */
  public record CountLiveEvents(String prefix) {}

  /** Asks whether the journal runs; answered with a {@link HealthReport}. */
  public record Health() {}

  /**
   * The journal's state: {@code failure} is why it did not start (null: it runs); the quarantined
   * persistence ids refuse to recover (see the class comment); {@code streams} persistence ids with
   * live events are in the index.
   */
  public record HealthReport(String failure, List<String> quarantined, int streams, int segments) {
    public boolean running() {
      return failure == null;
    }
  }

  /** A persistence id whose journal is damaged: it refuses to recover until it is released. */
  public static final class QuarantinedException extends IllegalStateException {
    QuarantinedException(String persistenceId, Path dir) {
      super("the journal of " + persistenceId + " is quarantined (a damaged record may belong to it): it is not recovered,"
          + " so that it cannot come back without its events; the damaged bytes are in " + dir.resolve(DAMAGED)
          + "; remove its line from " + dir.resolve(QUARANTINE) + " and restart to serve it from the events that are left"
          + " (README, \"Journal damage\")");
    }
  }

  @Override
  public PartialFunction<Object, BoxedUnit> receivePluginInternal() {
    return ReceiveBuilder.create()
        .match(Read.class, this::read)
        .match(Health.class, m -> sender().tell(new HealthReport(failure, List.copyOf(quarantined), streams.size(), segments.size()), self()))
        .match(DeleteAllWithPrefix.class, m -> {
          try {
            if (failure != null) throw unavailable();
            for (Map.Entry<String, Stream> e : new ArrayList<>(streams.entrySet())) {
              if (e.getKey().startsWith(m.prefix()) && e.getValue().highest > e.getValue().deletedTo) {
                writeMarker(e.getKey(), e.getValue().highest);
                e.getValue().deleteTo(e.getValue().highest);
                forgetIfEmpty(e.getKey(), e.getValue());
              }
            }
            collect();
            sender().tell(Done.getInstance(), self());
          } catch (IOException e) {
            sender().tell(new Status.Failure(e), self());
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
    closeAll();
    super.postStop();
  }

  private IOException unavailable() {
    return new IOException("the journal in " + dir.toAbsolutePath() + " did not start: " + failure);
  }

  private void closeAll() {
    for (Segment segment : segments.values()) {
      try {
        segment.channel.close();
      } catch (IOException e) {
        log.warn("journal: closing {}: {}", segment.path, e.toString());
      }
    }
    segments.clear();
    if (lockChannel != null) {
      try {
        lockChannel.close(); // releases the lock
      } catch (IOException e) {
        log.warn("journal: releasing {}: {}", dir.resolve(LOCK), e.toString());
      }
      lockChannel = null;
    }
  }

  // ------------------------------------------------------------------ replay

  private void read(Read r) {
    try {
      r.result().complete(stored(r));
    } catch (IOException | RuntimeException e) {
      r.result().completeExceptionally(e);
    }
  }

  private List<Records.Event> stored(Read r) throws IOException {
    told("read-begin " + r.persistenceId());
    try {
      return storedEvents(r);
    } finally {
      told("read-end " + r.persistenceId());
    }
  }

  private List<Records.Event> storedEvents(Read r) throws IOException {
    if (failure != null) throw unavailable();
    if (quarantined.contains(r.persistenceId())) throw new QuarantinedException(r.persistenceId(), dir);
    Stream s = streams.get(r.persistenceId());
    List<Records.Event> events = new ArrayList<>();
    if (s == null || r.max() <= 0) return events;
    long cachedSegment = -1;
    long cachedAt = -1;
    List<Records.Event> cached = null;
    for (int i = s.indexOf(r.from()); i < s.size && s.seqs[i] <= r.to() && events.size() < r.max(); i++) {
      if (s.positions[i] != cachedAt || s.segmentIds[i] != cachedSegment) { // events of one write share a record
        cached = Records.events(read(segments.get(s.segmentIds[i]), s.positions[i], s.lengths[i]));
        cachedSegment = s.segmentIds[i];
        cachedAt = s.positions[i];
      }
      events.add(cached.get(s.ordinals[i]));
    }
    return events;
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

  /** Appends a deletion marker; returns the segment it went to. */
  private Segment writeMarker(String persistenceId, long to) throws IOException {
    out.clear();
    out.marker(persistenceId, to);
    Segment written = head;
    append();
    Stream s = streams.get(persistenceId);
    if (s != null) s.markerSegment = written.id;
    rollIfFull();
    return written;
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

  /** Holds {@code <dir>/lock} for as long as the journal runs: a second process on the same files would corrupt them. */
  private void lock() throws IOException {
    Path path = dir.resolve(LOCK);
    FileChannel channel = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null; // another journal of this JVM holds it
    }
    if (lock == null) {
      channel.close();
      throw new IOException("the journal directory " + dir.toAbsolutePath() + " is in use by another server (" + path
          + " is locked): two processes on one journal would corrupt it; stop the other one or give this one its own COLLAB_DATA_DIR");
    }
    channel.truncate(0);
    channel.write(ByteBuffer.wrap((ManagementFactory.getRuntimeMXBean().getName() + "\n").getBytes(StandardCharsets.UTF_8)));
    lockChannel = channel;
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

  private void rollIfFullQuietly() {
    try {
      rollIfFull();
    } catch (IOException e) {
      log.warn("journal: could not start a new segment after {} ({}); writing on into it", head.path.getFileName(), e.toString());
    }
  }

  /** Forces the files written since {@code from} (segments from that id on) and the directory (a new segment's entry) to the disk. */
  private void force(long fromSegment) throws IOException {
    for (Segment s : segments.tailMap(fromSegment, true).values()) s.channel.force(false);
    told("force " + segments.tailMap(fromSegment, true).values().stream().map(s -> s.path.getFileName().toString()).toList());
    forceDirectory(dir);
  }

  /** Forces a directory's entries (a new file, a rename) to the disk, where the platform allows it (not on Windows). */
  static void forceDirectory(Path d) {
    try (FileChannel c = FileChannel.open(d, StandardOpenOption.READ)) {
      c.force(true);
    } catch (IOException e) {
      log.debug("the directory {} cannot be forced here: {}", d, e.toString());
    }
  }

  /** Reads every segment into the index, deals with damage, opens the head. */
  private void open() throws IOException {
    loadQuarantine();
    List<Long> ids = new ArrayList<>();
    try (var files = Files.list(dir)) {
      files.map(p -> p.getFileName().toString()).filter(n -> n.matches("segment-\\d{16}\\.log"))
          .forEach(n -> ids.add(Long.parseLong(n.substring(8, 24))));
    }
    ids.sort(null);
    List<String> suspects = new ArrayList<>();
    for (int k = 0; k < ids.size(); k++) {
      Segment segment = openSegment(ids.get(k));
      scan(segment, k == ids.size() - 1, suspects);
      fileBytes += segment.size;
    }
    for (String suspect : suspects) quarantine(suspect);
    for (Map.Entry<String, Stream> e : new ArrayList<>(streams.entrySet())) forgetIfEmpty(e.getKey(), e.getValue());
    head = segments.isEmpty() ? openSegment(1) : segments.lastEntry().getValue();
    rollIfFull();
    log.info("journal: {} persistence ids, {} segments, {} of {} bytes live, in {}{}", streams.size(), segments.size(),
        liveBytes, fileBytes, dir.toAbsolutePath(), fsync ? " (fsync on)" : "");
    if (!quarantined.isEmpty()) {
      log.error("journal: {} persistence ids are quarantined and will not recover (listed in {}): {}", quarantined.size(),
          dir.resolve(QUARANTINE), quarantined);
    }
  }

  /**
   * Indexes the valid records of a segment. A bad record at the end of the last segment, with no
   * valid record after it, is a torn write: cut off. A bad record followed by valid ones (in this
   * segment, or in a later one) is damage: refused, or skipped as the class comment says.
   */
  private void scan(Segment segment, boolean last, List<String> suspects) throws IOException {
    long size = segment.channel.size();
    long at = 0;
    while (at < size) {
      int length = recordAt(segment.channel, at, size);
      if (length >= 0) {
        index(segment, at, read(segment, at, length), length);
        at += HEADER + length;
        continue;
      }
      long next = nextRecord(segment.channel, at + 1, size);
      if (next < 0 && last) {
        keepDamaged(segment, at, size);
        log.warn("journal: the last segment {} ends in a torn record at byte {} of {} (the process or the machine stopped"
            + " during that write, which was not acknowledged): cut off; its bytes are kept in {}",
            segment.path.getFileName(), at, size, dir.resolve(DAMAGED));
        segment.channel.truncate(at);
        size = at;
        break;
      }
      long end = next < 0 ? size : next;
      String suspect = persistenceIdIn(segment.channel, at, end);
      Path copy = damagedCopy(segment, at);
      boolean handledBefore = Files.exists(copy);
      if (onDamage == OnDamage.REFUSE && !handledBefore) {
        throw new IOException("journal segment " + segment.path + " holds a damaged record at bytes " + at + "-" + end
            + (suspect == null ? " (whose room cannot be read)" : " (of " + suspect + ")")
            + ", followed by valid records: refusing to start; nothing was changed. To serve every other room, start with"
            + " COLLAB_JOURNAL_ON_DAMAGE=skip: every valid record is kept, the damaged bytes are copied to " + dir.resolve(DAMAGED)
            + (suspect == null ? "" : ", and " + suspect + " is quarantined (it refuses to recover until released)")
            + ". README, \"Journal damage\".");
      }
      if (!handledBefore) {
        keepDamaged(segment, at, end);
        log.error("journal: segment {} holds a damaged record at bytes {}-{}{}; skipped (on-damage = skip), every valid record"
            + " kept, the damaged bytes copied to {}", segment.path.getFileName(), at, end,
            suspect == null ? " whose room cannot be read: that room may have lost events" : " of " + suspect + ", now quarantined", copy);
      }
      if (suspect != null && !handledBefore) suspects.add(suspect); // damage handled at an earlier start: as the operator left it
      at = end;
    }
    segment.size = size;
  }

  /** The body length of the valid record at {@code at} (length fits, checksum matches, body decodes), or -1. */
  private static int recordAt(FileChannel channel, long at, long size) throws IOException {
    if (size - at < HEADER + 1) return -1;
    ByteBuffer header = readFully(channel, at, HEADER);
    int length = header.getInt(0);
    if (length <= 0 || length > MAX_RECORD || at + HEADER + length > size) return -1;
    ByteBuffer body = readFully(channel, at + HEADER, length);
    if (!Records.checksumMatches(body, header.getInt(4))) return -1;
    try {
      byte type = Records.type(body);
      if (type == Records.EVENTS) Records.events(body);
      else if (type == Records.DELETED_TO) Records.deletedTo(body);
      else return -1;
    } catch (RuntimeException e) {
      return -1; // a checksum that matches by chance over bytes that are no record
    }
    return length;
  }

  /** Where the next valid record after a damaged one starts (searched byte by byte, in a mapping of the file), or -1. */
  private static long nextRecord(FileChannel channel, long from, long size) throws IOException {
    if (size - from < HEADER + 5) return -1;
    ByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, from, size - from);
    for (int i = 0; i + HEADER + 5 <= map.limit(); i++) {
      long p = from + i;
      int length = map.getInt(i);
      // cheap tests first: a plausible length, type and persistence id length, then the checksum
      if (length < 5 || length > MAX_RECORD || p + HEADER + length > size) continue;
      byte type = map.get(i + HEADER);
      if (type != Records.EVENTS && type != Records.DELETED_TO) continue;
      int idLength = map.getInt(i + HEADER + 1);
      if (idLength <= 0 || idLength > Math.min(MAX_PERSISTENCE_ID, length - 5)) continue;
      if (recordAt(channel, p, size) >= 0) return p;
    }
    return -1;
  }

  /** The persistence id a damaged record names, if its first bytes still read as one; else null. */
  private static String persistenceIdIn(FileChannel channel, long at, long end) throws IOException {
    if (end - at < HEADER + 5) return null;
    ByteBuffer b = readFully(channel, at + HEADER, 5);
    byte type = b.get(0);
    int idLength = b.getInt(1);
    if ((type != Records.EVENTS && type != Records.DELETED_TO) || idLength <= 0 || idLength > MAX_PERSISTENCE_ID
        || at + HEADER + 5 + idLength > end) {
      return null;
    }
    try {
      String id = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(readFully(channel, at + HEADER + 5, idLength)).toString();
      return id.chars().anyMatch(Character::isISOControl) ? null : id;
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  private Path damagedCopy(Segment segment, long at) {
    return dir.resolve(DAMAGED).resolve(segment.path.getFileName() + "-at-" + at + ".bin");
  }

  /** Copies the bytes {@code [at, end)} of a segment to {@code damaged/}, forced, before anything changes them. */
  private void keepDamaged(Segment segment, long at, long end) throws IOException {
    Path copy = damagedCopy(segment, at);
    if (Files.exists(copy)) return;
    Files.createDirectories(copy.getParent());
    Path tmp = copy.resolveSibling(copy.getFileName() + ".tmp");
    try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      long n = end - at;
      long done = 0;
      while (done < n) done += segment.channel.transferTo(at + done, n - done, c);
      c.force(true);
    }
    Files.move(tmp, copy, StandardCopyOption.ATOMIC_MOVE);
  }

  private void loadQuarantine() throws IOException {
    Path file = dir.resolve(QUARANTINE);
    if (!Files.exists(file)) return;
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (!line.isBlank() && !line.startsWith("#")) quarantined.add(line.strip());
    }
  }

  /** Adds a persistence id to the quarantine file (forced) and to the set. */
  private void quarantine(String persistenceId) throws IOException {
    if (!quarantined.add(persistenceId)) return;
    Path file = dir.resolve(QUARANTINE);
    boolean fresh = !Files.exists(file);
    try (FileChannel c = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
      String text = (fresh ? "# persistence ids whose journal holds a damaged record; each refuses to recover while listed"
          + " (README, \"Journal damage\")\n" : "") + persistenceId + "\n";
      c.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
      c.force(true);
    }
  }

  /** The body of the record at {@code at} in {@code segment}. */
  private static ByteBuffer read(Segment segment, long at, int length) throws IOException {
    return readFully(segment.channel, at + HEADER, length);
  }

  private static ByteBuffer readFully(FileChannel channel, long at, int length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length);
    while (b.hasRemaining()) {
      if (channel.read(b, at + b.position()) < 0) throw new IOException("journal segment ended early");
    }
    b.flip();
    return b;
  }

  private void index(Segment segment, long at, ByteBuffer body, int length) {
    byte type = Records.type(body);
    String id = Records.persistenceId(body);
    Stream s = stream(id);
    s.oldestSegment = Math.min(s.oldestSegment, segment.id);
    if (type == Records.EVENTS) {
      List<Records.Event> events = Records.events(body);
      for (int i = 0; i < events.size(); i++) {
        if (events.get(i).seq() <= s.deletedTo) continue; // a compacted copy of an event deleted since
        s.put(events.get(i).seq(), segment, at, length, i, (HEADER + length) / events.size());
      }
    } else {
      long to = Records.deletedTo(body);
      if (to > s.deletedTo) s.deleteTo(to);
      s.markerSegment = segment.id;
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

  /** Appends the records of {@code segment} that hold live events again at the head, forces them, then drops it. */
  private void compact(Segment segment) throws IOException {
    log.info("journal: compacting {} ({} live events, {} of {} bytes)", segment.path.getFileName(), segment.live,
        segment.liveBytes, segment.size);
    told("write");
    long firstWritten = head.id;
    Map<Long, long[]> moved = new HashMap<>(); // old record position -> {segment id, new position}
    for (Stream s : streams.values()) {
      for (int i = 0; i < s.size; i++) {
        if (s.segmentIds[i] != segment.id) continue;
        long[] where = moved.get(s.positions[i]);
        if (where == null) {
          out.clear();
          out.copy(read(segment, s.positions[i], s.lengths[i]));
          Segment to = head;
          long at = append();
          where = new long[] {to.id, at};
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
        s.oldestSegment = Math.min(s.oldestSegment, where[0]);
      }
    }
    drop(segment, firstWritten);
  }

  private void drop(Segment segment) throws IOException {
    drop(segment, head.id);
  }

  /**
   * Removes a segment without live events, after carrying the deletion markers still needed to the
   * head and forcing everything written since segment {@code firstWritten} (the copies of a
   * compaction included) to the disk: a delete never outruns its copy, whatever {@code fsync} says.
   */
  private void drop(Segment segment, long firstWritten) throws IOException {
    firstWritten = Math.min(firstWritten, head.id);
    for (Map.Entry<String, Stream> entry : streams.entrySet()) {
      if (entry.getValue().markerSegment == segment.id) writeMarker(entry.getKey(), entry.getValue().deletedTo);
    }
    for (Iterator<Map.Entry<String, Forgotten>> it = forgotten.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, Forgotten> entry = it.next();
      Forgotten f = entry.getValue();
      if (f.markerSegment != segment.id) continue;
      if (segments.subMap(f.oldestSegment, true, segment.id, false).isEmpty()) {
        it.remove(); // no older segment can hold its events any more: the marker is not needed
      } else {
        f.markerSegment = writeMarker(entry.getKey(), f.deletedTo).id;
      }
    }
    force(firstWritten);
    segments.remove(segment.id);
    segment.channel.close();
    told("delete " + segment.path.getFileName());
    Files.deleteIfExists(segment.path);
    fileBytes -= segment.size;
  }

  // ------------------------------------------------------------------ index

  private Stream stream(String persistenceId) {
    return streams.computeIfAbsent(persistenceId, k -> {
      Stream s = new Stream();
      Forgotten f = forgotten.remove(k);
      if (f != null) { // written again after it was forgotten: its old marker still counts
        s.deletedTo = f.deletedTo;
        s.highest = f.deletedTo;
        s.markerSegment = f.markerSegment;
        s.oldestSegment = f.oldestSegment;
      }
      return s;
    });
  }

  /**
   * Forgets a persistence id with no live event (see the class comment); its marker is remembered,
   * in a few bytes, while an older segment may still hold its deleted events.
   */
  private void forgetIfEmpty(String persistenceId, Stream s) {
    if (s.size > 0) return;
    streams.remove(persistenceId);
    if (s.markerSegment >= 0 && !segments.subMap(s.oldestSegment, true, s.markerSegment, false).isEmpty()) {
      forgotten.put(persistenceId, new Forgotten(s.deletedTo, s.markerSegment, s.oldestSegment));
    }
  }

  /** What is left of a forgotten persistence id: its deletion marker, and the oldest segment that may hold its events. */
  private static final class Forgotten {
    final long deletedTo;
    long markerSegment;
    final long oldestSegment;

    Forgotten(long deletedTo, long markerSegment, long oldestSegment) {
      this.deletedTo = deletedTo;
      this.markerSegment = markerSegment;
      this.oldestSegment = oldestSegment;
    }
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
    /** The oldest segment that held a record of this persistence id (its deleted events may still be there). */
    long oldestSegment = Long.MAX_VALUE;

    void put(long seq, Segment segment, long at, int length, int ordinal, int share) {
      highest = Math.max(highest, seq);
      oldestSegment = Math.min(oldestSegment, segment.id);
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
      if (size == 0 && seqs.length > 4) { // give the arrays of a long stream back
        seqs = new long[4];
        segmentIds = new long[4];
        positions = new long[4];
        lengths = new int[4];
        ordinals = new int[4];
        shares = new int[4];
      }
    }

    private void grow() {
      if (size < seqs.length) return;
      int n = seqs.length * 2;
      seqs = Arrays.copyOf(seqs, n);
      segmentIds = Arrays.copyOf(segmentIds, n);
      positions = Arrays.copyOf(positions, n);
      lengths = Arrays.copyOf(lengths, n);
      ordinals = Arrays.copyOf(ordinals, n);
      shares = Arrays.copyOf(shares, n);
    }
  }
}
