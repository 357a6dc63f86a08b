package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One Yjs document held by the server: applies v1 updates with yjs's semantics (idempotent,
 * order-independent, with pending structs and deletes held back until their dependencies arrive),
 * and encodes its state vector, its full state, or the diff a peer lacks.
 *
 * <p>Not thread-safe: a room applies one message at a time. {@link #apply} is atomic: an update that
 * is malformed or would exceed the pending cap throws and changes nothing.
 */
public final class YDoc {
  /** Options: garbage collection of deleted content, and the cap on pending bytes. */
  public record Options(boolean gc, long maxPendingBytes) {
    public static final Options DEFAULT = new Options(true, 16L * 1024 * 1024);

    public Options {
      if (maxPendingBytes < 0) throw new IllegalArgumentException("maxPendingBytes must be >= 0");
    }
  }

  /** Structs that could not be applied yet: the encoded rest, and the lowest missing clock per client. */
  record PendingStructs(Map<Long, Long> missing, byte[] update) {}

  final StructStore store = new StructStore();
  private final LinkedHashMap<String, YType> share = new LinkedHashMap<>();
  private final Options options;
  private PendingStructs pendingStructs;
  private byte[] pendingDs;
  private int lastFullStateBytes = 1024;

  public YDoc() {
    this(Options.DEFAULT);
  }

  public YDoc(Options options) {
    this.options = options;
  }

  public Options options() {
    return options;
  }

  YType rootType(String name) {
    return share.computeIfAbsent(name, n -> new YType(YType.ROOT, n));
  }

  /** The root type of that name, if any item ever lived in it. */
  public YType root(String name) {
    return share.get(name);
  }

  public Map<String, YType> roots() {
    return Collections.unmodifiableMap(share);
  }

  // ---------------------------------------------------------------- apply

  /** Applies a v1 update. Throws {@link UpdateFormatException} or {@link PendingLimitException} and changes nothing if it cannot. */
  public void apply(byte[] update) {
    apply(prepare(update));
  }

  /**
   * An update decoded and checked against this document, ready to apply: lets a caller decide
   * (persist, reject) between validation and application without decoding twice. Apply it once,
   * to the document that prepared it, before that document changes otherwise.
   */
  public static final class PreparedUpdate {
    private final UpdateReader.Decoded decoded;
    private final YDoc doc;
    private boolean applied;

    private PreparedUpdate(UpdateReader.Decoded decoded, YDoc doc) {
      this.decoded = decoded;
      this.doc = doc;
    }

    /** Whether {@link YDoc#apply(PreparedUpdate)} takes it: prepared by {@code target} and not applied yet. */
    public boolean appliesTo(YDoc target) {
      return doc == target && !applied;
    }

    /** No structs and no deletes: applying it changes nothing (a sync step 2 with nothing new is such). */
    public boolean isEmpty() {
      for (UpdateReader.ClientStructs b : decoded.blocks()) {
        if (!b.refs.isEmpty()) return false;
      }
      return decoded.deleteSet().isEmpty();
    }

    /**
     * Applying it changes nothing: every struct is already integrated (each client's last one ends at or
     * below the document's state) and everything it deletes is already deleted. A resent or echoed
     * update is such: it need not be journaled or broadcast again.
     */
    public boolean isRedundant() {
      for (UpdateReader.ClientStructs b : decoded.blocks()) {
        if (b.refs.isEmpty()) continue;
        Struct last = b.refs.get(b.refs.size() - 1);
        if (last.clock + last.length > doc.store.getState(b.client)) return false;
      }
      for (Map.Entry<Long, List<DeleteSet.Range>> e : decoded.deleteSet().ranges().entrySet()) {
        ArrayList<Struct> structs = doc.store.structs(e.getKey());
        for (DeleteSet.Range r : e.getValue()) {
          if (r.len() == 0) continue;
          if (structs == null || r.clock() + r.len() > doc.store.getState(e.getKey())) return false;
          for (int i = StructStore.findIndex(structs, r.clock()); i < structs.size(); i++) {
            Struct st = structs.get(i);
            if (st.clock >= r.clock() + r.len()) break;
            if (!st.deleted()) return false;
          }
        }
      }
      return true;
    }
  }

  /** Decodes and validates {@code update} (format, pending cap) without changing anything. */
  public PreparedUpdate prepare(byte[] update) {
    UpdateReader.Decoded decoded = UpdateReader.read(update);
    checkPendingLimit(decoded, update.length);
    return new PreparedUpdate(decoded, this);
  }

  /** Applies an update prepared by {@link #prepare}. */
  public void apply(PreparedUpdate prepared) {
    if (prepared.doc != this) throw new IllegalArgumentException("update was prepared by another document");
    if (prepared.applied) throw new IllegalStateException("prepared update applied twice");
    prepared.applied = true;
    UpdateReader.Decoded decoded = prepared.decoded;
    Transaction t = new Transaction(store);
    readUpdate(t, decoded);
    t.deleteSet.sortAndMerge();
    Transaction formatting = FormattingCleanup.needed(t) ? FormattingCleanup.run(this, t) : null;
    cleanup(t);
    if (formatting != null) {
      formatting.deleteSet.sortAndMerge();
      cleanup(formatting);
    }
  }

  private void readUpdate(Transaction t, UpdateReader.Decoded decoded) {
    boolean retry = false;
    PendingStructs rest = integrateStructs(t, decoded.blocks(), null);
    if (pendingStructs != null) {
      for (Map.Entry<Long, Long> e : pendingStructs.missing().entrySet()) {
        if (e.getValue() < store.getState(e.getKey())) {
          retry = true;
          break;
        }
      }
      if (rest != null) {
        for (Map.Entry<Long, Long> e : rest.missing().entrySet()) {
          pendingStructs.missing().merge(e.getKey(), e.getValue(), Math::min);
        }
        pendingStructs = new PendingStructs(pendingStructs.missing(),
            Updates.mergeUpdates(List.of(pendingStructs.update(), rest.update())));
      }
    } else {
      pendingStructs = rest;
    }
    byte[] dsRest = applyDeleteSet(t, decoded.deleteSet());
    if (pendingDs != null) {
      Lib0Decoder d = new Lib0Decoder(pendingDs);
      d.readVarUint(); // no structs in a pending-deletes update
      byte[] dsRest2 = applyDeleteSet(t, DeleteSet.read(d));
      pendingDs = (dsRest != null && dsRest2 != null) ? Updates.mergeUpdates(List.of(dsRest, dsRest2))
          : (dsRest != null ? dsRest : dsRest2);
    } else {
      pendingDs = dsRest;
    }
    if (retry) {
      byte[] again = pendingStructs.update();
      pendingStructs = null;
      readUpdate(t, UpdateReader.read(again));
    }
  }

  /**
   * Integrates structs in causal order, as yjs's integrateStructs: when a struct depends on
   * another client's struct that this update carries, that client's structs go first; what
   * depends on something missing is returned as the rest. With {@code dryState} non-null nothing is
   * changed: the run only advances that state map, to predict what would stay pending.
   */
  private PendingStructs integrateStructs(Transaction t, List<UpdateReader.ClientStructs> blocks, Map<Long, Long> dryState) {
    boolean dry = dryState != null;
    LinkedHashMap<Long, UpdateReader.ClientStructs> refsByClient = new LinkedHashMap<>();
    for (UpdateReader.ClientStructs b : blocks) {
      UpdateReader.ClientStructs c = new UpdateReader.ClientStructs(b.client, b.refs);
      refsByClient.put(b.client, c); // a client listed twice: the later block wins, as in yjs
    }
    if (refsByClient.isEmpty()) return null;
    List<Long> ids = new ArrayList<>(refsByClient.keySet());
    Collections.sort(ids);
    ArrayList<Struct> stack = new ArrayList<>();
    LinkedHashMap<Long, List<Struct>> restStructs = new LinkedHashMap<>();
    Map<Long, Long> missingSv = new HashMap<>();
    Map<Long, Long> state = dry ? dryState : new HashMap<>();

    UpdateReader.ClientStructs cur = nextTarget(ids, refsByClient);
    if (cur == null) return null;
    Struct head = cur.refs.get(cur.i++);
    while (true) {
      if (!(head instanceof SkipStruct)) {
        long localClock = state.computeIfAbsent(head.client, store::getState);
        long offset = localClock - head.clock;
        if (offset < 0) {
          stack.add(head);
          missingSv.merge(head.client, head.clock - 1, Math::min);
          addStackToRest(stack, refsByClient, restStructs, ids);
        } else {
          long missing = head instanceof Item item ? (dry ? dryMissing(item, state) : item.getMissing(t, this)) : -1;
          if (missing != -1) {
            stack.add(head);
            UpdateReader.ClientStructs structRefs = refsByClient.get(missing);
            if (structRefs == null || structRefs.refs.size() == structRefs.i) {
              long missingState = dry ? state.computeIfAbsent(missing, store::getState) : store.getState(missing);
              missingSv.merge(missing, missingState, Math::min);
              addStackToRest(stack, refsByClient, restStructs, ids);
            } else {
              head = structRefs.refs.get(structRefs.i++);
              continue;
            }
          } else if (offset == 0 || offset < head.length) {
            if (!dry) {
              if (head instanceof Item item) {
                item.integrate(t, this, offset);
              } else {
                integrateGc(t, (GcStruct) head, offset);
              }
            }
            state.put(head.client, head.clock + head.length);
          }
        }
      }
      if (!stack.isEmpty()) {
        head = stack.remove(stack.size() - 1);
      } else if (cur != null && cur.i < cur.refs.size()) {
        head = cur.refs.get(cur.i++);
      } else {
        cur = nextTarget(ids, refsByClient);
        if (cur == null) break;
        head = cur.refs.get(cur.i++);
      }
    }
    if (restStructs.isEmpty()) return null;
    Lib0Encoder e = new Lib0Encoder();
    writeClientRuns(e, restStructs);
    e.writeVarUint(0); // no deletes
    return new PendingStructs(missingSv, e.toByteArray());
  }

  private static UpdateReader.ClientStructs nextTarget(List<Long> ids, Map<Long, UpdateReader.ClientStructs> refs) {
    while (!ids.isEmpty()) {
      UpdateReader.ClientStructs c = refs.get(ids.get(ids.size() - 1));
      if (c != null && c.i < c.refs.size()) return c;
      ids.remove(ids.size() - 1);
    }
    return null;
  }

  private static void addStackToRest(List<Struct> stack, Map<Long, UpdateReader.ClientStructs> refsByClient,
      Map<Long, List<Struct>> rest, List<Long> ids) {
    for (Struct s : stack) {
      long client = s.client;
      UpdateReader.ClientStructs inapplicable = refsByClient.get(client);
      if (inapplicable != null) {
        inapplicable.i--; // the struct on the stack was taken but not applied
        rest.put(client, new ArrayList<>(inapplicable.refs.subList(inapplicable.i, inapplicable.refs.size())));
        refsByClient.remove(client);
        inapplicable.i = 0;
        inapplicable.refs = List.of();
      } else {
        rest.put(client, new ArrayList<>(List.of(s)));
      }
      ids.removeIf(id -> id == client);
    }
    stack.clear();
  }

  /** The dependency check of {@link Item#getMissing}, against a simulated state. */
  private long dryMissing(Item item, Map<Long, Long> state) {
    if (item.hasOrigin() && item.originClient != item.client
        && item.originClock >= state.computeIfAbsent(item.originClient, store::getState)) {
      return item.originClient;
    }
    if (item.hasRightOrigin() && item.rightOriginClient != item.client
        && item.rightOriginClock >= state.computeIfAbsent(item.rightOriginClient, store::getState)) {
      return item.rightOriginClient;
    }
    if (item.parentRef instanceof Item.Id p && p.client() != item.client
        && p.clock() >= state.computeIfAbsent(p.client(), store::getState)) {
      return p.client();
    }
    return -1;
  }

  private void integrateGc(Transaction t, GcStruct gc, long offset) {
    if (offset > 0) {
      gc.clock += offset;
      gc.length -= offset;
    }
    store.addStruct(t, gc);
  }

  /** Deletes what the store has; returns the rest (deletes of structs not yet known) as an update, or null. */
  private byte[] applyDeleteSet(Transaction t, DeleteSet ds) {
    DeleteSet unapplied = new DeleteSet();
    for (Map.Entry<Long, List<DeleteSet.Range>> e : ds.clients.entrySet()) {
      long client = e.getKey();
      ArrayList<Struct> structs = store.structs(client);
      long state = store.getState(client);
      for (DeleteSet.Range r : e.getValue()) {
        long clock = r.clock();
        long clockEnd = clock + r.len();
        if (clock < state) {
          if (state < clockEnd) unapplied.add(client, state, clockEnd - state);
          int index = StructStore.findIndex(structs, clock);
          Struct s = structs.get(index);
          if (!s.deleted() && s.clock < clock) {
            structs.add(index + 1, ((Item) s).split(t, clock - s.clock));
            index++;
          }
          while (index < structs.size()) {
            s = structs.get(index++);
            if (s.clock < clockEnd) {
              if (!s.deleted()) {
                if (clockEnd < s.clock + s.length) {
                  structs.add(index, ((Item) s).split(t, clockEnd - s.clock));
                }
                ((Item) s).delete(t);
              }
            } else {
              break;
            }
          }
        } else {
          unapplied.add(client, clock, clockEnd - clock);
        }
      }
    }
    if (unapplied.isEmpty()) return null;
    Lib0Encoder enc = new Lib0Encoder();
    enc.writeVarUint(0);
    unapplied.write(enc);
    return enc.toByteArray();
  }

  /** After an update: collect deleted content, then merge structs that became mergeable. */
  private void cleanup(Transaction t) {
    DeleteSet ds = t.deleteSet;
    if (options.gc()) {
      for (Map.Entry<Long, List<DeleteSet.Range>> e : ds.clients.entrySet()) {
        ArrayList<Struct> structs = store.structs(e.getKey());
        List<DeleteSet.Range> ranges = e.getValue();
        for (int di = ranges.size() - 1; di >= 0; di--) {
          DeleteSet.Range r = ranges.get(di);
          long end = r.clock() + r.len();
          for (int si = StructStore.findIndex(structs, r.clock()); si < structs.size(); si++) {
            Struct s = structs.get(si);
            if (s.clock >= end) break;
            if (s instanceof Item item && item.deleted()) item.gc(store, false);
          }
        }
      }
    }
    for (Map.Entry<Long, List<DeleteSet.Range>> e : ds.clients.entrySet()) {
      ArrayList<Struct> structs = store.structs(e.getKey());
      List<DeleteSet.Range> ranges = e.getValue();
      for (int di = ranges.size() - 1; di >= 0; di--) {
        DeleteSet.Range r = ranges.get(di);
        int si = Math.min(structs.size() - 1, 1 + StructStore.findIndex(structs, r.clock() + r.len() - 1));
        while (si > 0 && structs.get(si).clock >= r.clock()) {
          si -= 1 + tryToMergeWithLefts(structs, si);
        }
      }
    }
    for (Map.Entry<Long, Long> e : t.before.entrySet()) {
      long before = e.getValue();
      if (before != store.getState(e.getKey())) {
        ArrayList<Struct> structs = store.structs(e.getKey());
        int firstChangePos = Math.max(StructStore.findIndex(structs, before), 1);
        for (int i = structs.size() - 1; i >= firstChangePos; ) {
          i -= 1 + tryToMergeWithLefts(structs, i);
        }
      }
    }
    for (int i = t.mergeStructs.size() - 1; i >= 0; i--) {
      Item m = t.mergeStructs.get(i);
      ArrayList<Struct> structs = store.structs(m.client);
      int pos = StructStore.findIndex(structs, m.clock);
      if (pos + 1 < structs.size() && tryToMergeWithLefts(structs, pos + 1) > 1) continue;
      if (pos > 0) tryToMergeWithLefts(structs, pos);
    }
  }

  private static int tryToMergeWithLefts(ArrayList<Struct> structs, int pos) {
    Struct right = structs.get(pos);
    Struct left = structs.get(pos - 1);
    int i = pos;
    for (; i > 0; right = left, left = --i > 0 ? structs.get(i - 1) : null) {
      if (left.deleted() == right.deleted() && left.getClass() == right.getClass() && left.mergeWith(right)) {
        if (right instanceof Item ri && ri.parentSub != null && ri.parent != null && ri.parent.mapItem(ri.parentSub) == ri) {
          ri.parent.mapPut(ri.parentSub, (Item) left);
        }
        continue;
      }
      break;
    }
    int merged = pos - i;
    if (merged > 0) structs.subList(pos + 1 - merged, pos + 1).clear();
    return merged;
  }

  /**
   * Rejects, before anything changes, an update that would leave more pending bytes than the cap:
   * a dry run of the integration predicts whether structs or deletes would stay pending.
   */
  private void checkPendingLimit(UpdateReader.Decoded decoded, int updateBytes) {
    long current = pendingBytes();
    if (current + updateBytes <= options.maxPendingBytes()) return; // cannot exceed whatever happens
    // simulate readUpdate on state clocks only: the update, then (as readUpdate does) one retry of
    // everything pending if the update supplied a missing clock
    Map<Long, Long> dry = new HashMap<>();
    PendingStructs rest = integrateStructs(null, decoded.blocks(), dry);
    long structBytes;
    if (pendingStructs == null) {
      structBytes = rest == null ? 0 : rest.update().length;
    } else {
      boolean retry = false;
      for (Map.Entry<Long, Long> e : pendingStructs.missing().entrySet()) {
        if (e.getValue() < dry.computeIfAbsent(e.getKey(), store::getState)) retry = true;
      }
      byte[] merged = rest == null ? pendingStructs.update() : Updates.mergeUpdates(List.of(pendingStructs.update(), rest.update()));
      if (retry) {
        PendingStructs again = integrateStructs(null, UpdateReader.read(merged).blocks(), dry);
        structBytes = again == null ? 0 : again.update().length;
      } else {
        structBytes = merged.length;
      }
    }
    DeleteSet unapplied = new DeleteSet();
    dryUnapplied(decoded.deleteSet(), dry, unapplied);
    if (pendingDs != null) {
      Lib0Decoder d = new Lib0Decoder(pendingDs);
      d.readVarUint();
      dryUnapplied(DeleteSet.read(d), dry, unapplied);
    }
    long dsBytes = 0;
    if (!unapplied.isEmpty()) {
      Lib0Encoder e = new Lib0Encoder();
      unapplied.write(e);
      dsBytes = e.length() + 1;
    }
    if (structBytes + dsBytes > options.maxPendingBytes()) {
      throw new PendingLimitException("update would leave " + (structBytes + dsBytes) + " bytes pending, over the cap of "
          + options.maxPendingBytes() + " (it depends on updates this document has not received)");
    }
  }

  /** The delete ranges (or their parts) beyond the simulated state, as applyDeleteSet would keep them. */
  private void dryUnapplied(DeleteSet ds, Map<Long, Long> dry, DeleteSet out) {
    for (Map.Entry<Long, List<DeleteSet.Range>> e : ds.clients.entrySet()) {
      long state = dry.computeIfAbsent(e.getKey(), store::getState);
      for (DeleteSet.Range r : e.getValue()) {
        long end = r.clock() + r.len();
        if (end > state) {
          long from = Math.max(r.clock(), state);
          out.add(e.getKey(), from, end - from);
        }
      }
    }
  }

  // ---------------------------------------------------------------- read

  public boolean hasPending() {
    return pendingStructs != null || pendingDs != null;
  }

  /** Lowest missing clock per client for the pending structs, or null when none are pending. */
  public Map<Long, Long> pendingMissing() {
    return pendingStructs == null ? null : Collections.unmodifiableMap(pendingStructs.missing());
  }

  public boolean hasPendingDeletes() {
    return pendingDs != null;
  }

  public long pendingBytes() {
    return (pendingStructs == null ? 0 : pendingStructs.update().length) + (pendingDs == null ? 0 : pendingDs.length);
  }

  /** Client to next clock, for the structs applied (pending ones excluded). */
  public Map<Long, Long> stateVectorMap() {
    return store.stateVector();
  }

  public byte[] stateVector() {
    return StateVectors.encode(store.stateVector());
  }

  public byte[] encodeStateAsUpdate() {
    return encodeStateAsUpdate(null);
  }

  /**
   * Everything this document has that a peer with state vector {@code remoteStateVector} lacks
   * (sync step 2), pending structs and deletes included. Null or empty means everything.
   */
  public byte[] encodeStateAsUpdate(byte[] remoteStateVector) {
    Map<Long, Long> target = remoteStateVector == null ? Map.of() : StateVectors.decode(remoteStateVector);
    // sized from the last full encoding: a growing buffer would copy a large document several times
    Lib0Encoder e = new Lib0Encoder(target.isEmpty() ? lastFullStateBytes + lastFullStateBytes / 8 + 64 : 1024);
    writeStructs(e, target);
    DeleteSet.fromStore(store).write(e);
    byte[] main = e.toByteArray();
    if (target.isEmpty()) lastFullStateBytes = main.length;
    if (pendingDs == null && pendingStructs == null) return main;
    List<byte[]> parts = new ArrayList<>(3);
    parts.add(main);
    if (pendingDs != null) parts.add(pendingDs);
    if (pendingStructs != null) {
      parts.add(Updates.diffUpdate(pendingStructs.update(),
          remoteStateVector == null ? StateVectors.encode(Map.of()) : remoteStateVector));
    }
    return Updates.mergeUpdates(parts);
  }

  private void writeStructs(Lib0Encoder e, Map<Long, Long> target) {
    List<long[]> runs = new ArrayList<>();
    for (Map.Entry<Long, ArrayList<Struct>> c : store.clients.entrySet()) {
      long client = c.getKey();
      Long from = target.get(client);
      long clock = from == null ? 0 : from;
      if (from == null || store.getState(client) > clock) runs.add(new long[] {client, clock});
    }
    runs.sort((a, b) -> Long.compare(b[0], a[0]));
    e.writeVarUint(runs.size());
    for (long[] run : runs) {
      ArrayList<Struct> structs = store.clients.get(run[0]);
      long clock = Math.max(run[1], structs.get(0).clock);
      int start = StructStore.findIndex(structs, clock);
      e.writeVarUint(structs.size() - start);
      e.writeVarUint(run[0]);
      e.writeVarUint(clock);
      Struct first = structs.get(start);
      first.write(e, clock - first.clock);
      for (int i = start + 1; i < structs.size(); i++) structs.get(i).write(e, 0);
    }
  }

  /** Writes runs of structs (each client's list from its first struct), clients in descending order. */
  static void writeClientRuns(Lib0Encoder e, Map<Long, List<Struct>> runs) {
    List<Long> ids = new ArrayList<>(runs.keySet());
    ids.sort(Collections.reverseOrder());
    e.writeVarUint(ids.size());
    for (Long client : ids) {
      List<Struct> structs = runs.get(client);
      e.writeVarUint(structs.size());
      e.writeVarUint(client);
      e.writeVarUint(structs.get(0).clock);
      for (Struct s : structs) s.write(e, 0);
    }
  }
}
