package dev.ripple.collab.yjs;

import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Iterator;

/**
 * A run of content inserted by one client, placed in its parent's list between {@code left} and
 * {@code right} by the YATA rules (origins are the neighbours it was inserted between). IDs are
 * kept as (client, clock) fields; a clock of -1 means "none".
 */
public final class Item extends Struct {
  private static final byte DELETED = 1;

  Item left;
  Item right;
  long originClient;
  long originClock = -1;
  long rightOriginClient;
  long rightOriginClock = -1;
  YType parent;
  /** Parent as written in an update, until resolved: a root name (String) or the parent item's {@link Id}. */
  Object parentRef;
  String parentSub;
  Content content;
  private byte info;

  Item(long client, long clock, Content content) {
    super(client, clock, content.length());
    this.content = content;
  }

  /** An (client, clock) pair where an update names a parent item. */
  record Id(long client, long clock) {}

  public boolean deleted() {
    return (info & DELETED) != 0;
  }

  void markDeleted() {
    info |= DELETED;
  }

  public Content content() { return content; }
  public Item right() { return right; }
  public String parentSub() { return parentSub; }
  public YType parent() { return parent; }

  boolean hasOrigin() {
    return originClock >= 0;
  }

  boolean hasRightOrigin() {
    return rightOriginClock >= 0;
  }

  long lastClock() {
    return clock + length - 1;
  }

  /**
   * Returns the client whose struct this item depends on and the store lacks, or -1 when every
   * dependency is there; in that case resolves origins to neighbours and the parent to a type,
   * exactly as yjs's {@code getMissing} (including the splits that resolution makes).
   */
  long getMissing(Transaction t, YDoc doc) {
    StructStore store = doc.store;
    if (hasOrigin() && originClient != client && originClock >= store.getState(originClient)) return originClient;
    if (hasRightOrigin() && rightOriginClient != client && rightOriginClock >= store.getState(rightOriginClient)) {
      return rightOriginClient;
    }
    if (parentRef instanceof Id p && p.client() != client && p.clock() >= store.getState(p.client())) return p.client();

    boolean gcNeighbour = false;
    if (hasOrigin()) {
      Struct l = store.getItemCleanEnd(t, originClient, originClock);
      if (l instanceof Item li) {
        left = li;
        originClock = li.lastClock();
      } else {
        gcNeighbour = true;
      }
    }
    if (hasRightOrigin()) {
      Struct r = store.getItemCleanStart(t, rightOriginClient, rightOriginClock);
      if (r instanceof Item ri) {
        right = ri;
        rightOriginClock = ri.clock;
      } else {
        gcNeighbour = true;
        rightOriginClock = r.clock;
      }
    }
    if (gcNeighbour) {
      parent = null;
      left = null;
      right = null;
    } else if (parentRef == null) {
      // parent info was not written: the item shares its neighbour's parent
      if (left != null) {
        parent = left.parent;
        parentSub = left.parentSub;
      } else if (right != null) {
        parent = right.parent;
        parentSub = right.parentSub;
      }
    } else if (parentRef instanceof Id p) {
      Struct pi = store.find(p.client(), p.clock());
      // a collected parent, or one whose content is no type (collected to Deleted), makes this a GC
      parent = (pi instanceof Item item && item.content instanceof Content.Type ct) ? ct.type : null;
    } else {
      parent = doc.rootType((String) parentRef);
    }
    parentRef = null;
    return -1;
  }

  /** Puts this item into the store and its parent's list (YATA), from clock offset {@code offset}. */
  void integrate(Transaction t, YDoc doc, long offset) {
    StructStore store = doc.store;
    boolean gcLeft = false;
    if (offset > 0) {
      clock += offset;
      Struct l = store.getItemCleanEnd(t, client, clock - 1);
      if (l instanceof Item li) {
        left = li;
        originClient = client;
        originClock = clock - 1;
      } else {
        gcLeft = true; // yjs would fail here; the only sane reading is that this part is collected too
      }
      content = content.splice((int) offset);
      length -= offset;
    }
    if (parent == null || gcLeft) {
      store.addStruct(t, new GcStruct(client, clock, length));
      return;
    }
    if ((left == null && (right == null || right.left != null)) || (left != null && left.right != right)) {
      Item newLeft = left;
      Item o;
      if (newLeft != null) {
        o = newLeft.right;
      } else if (parentSub != null) {
        o = parent.mapItem(parentSub);
        while (o != null && o.left != null) o = o.left;
      } else {
        o = parent.start;
      }
      HashSet<Item> conflicting = null;
      HashSet<Item> beforeOrigin = null;
      while (o != null && o != right) {
        if (conflicting == null) {
          conflicting = new HashSet<>();
          beforeOrigin = new HashSet<>();
        }
        beforeOrigin.add(o);
        conflicting.add(o);
        if (sameOrigin(o)) {
          if (o.client < client) {
            newLeft = o;
            conflicting.clear();
          } else if (sameRightOrigin(o)) {
            break; // same integration points: the lower client id goes first, and that is this
          }
        } else if (o.hasOrigin() && containsStruct(beforeOrigin, store.find(o.originClient, o.originClock))) {
          if (!containsStruct(conflicting, store.find(o.originClient, o.originClock))) {
            newLeft = o;
            conflicting.clear();
          }
        } else {
          break;
        }
        o = o.right;
      }
      left = newLeft;
    }
    if (left != null) {
      right = left.right;
      left.right = this;
    } else {
      Item r;
      if (parentSub != null) {
        r = parent.mapItem(parentSub);
        while (r != null && r.left != null) r = r.left;
      } else {
        r = parent.start;
        parent.start = this;
      }
      right = r;
    }
    if (right != null) {
      right.left = this;
    } else if (parentSub != null) {
      parent.mapPut(parentSub, this); // the newest value of a key is the rightmost item
      if (left != null) left.delete(t);
    }
    store.addStruct(t, this);
    content.integrate(t, this);
    t.addChanged(parent);
    if ((parent.item != null && parent.item.deleted()) || (parentSub != null && right != null)) {
      delete(t);
    }
  }

  private static boolean containsStruct(HashSet<Item> set, Struct s) {
    return s instanceof Item i && set.contains(i);
  }

  private boolean sameOrigin(Item o) {
    return originClock == o.originClock && (originClock < 0 || originClient == o.originClient);
  }

  private boolean sameRightOrigin(Item o) {
    return rightOriginClock == o.rightOriginClock && (rightOriginClock < 0 || rightOriginClient == o.rightOriginClient);
  }

  /**
   * Deletes this item and, if it holds a type, everything inside it. Depth-first in yjs's order,
   * without recursion: a document can nest types deeper than the call stack.
   */
  void delete(Transaction t) {
    if (deleted()) return;
    markDeletedIn(t);
    if (!(content instanceof Content.Type root)) return;
    ArrayDeque<Iterator<Item>> stack = new ArrayDeque<>();
    stack.push(root.children());
    while (!stack.isEmpty()) {
      Iterator<Item> it = stack.peek();
      if (!it.hasNext()) {
        stack.pop();
        continue;
      }
      Item child = it.next();
      if (!child.deleted()) {
        child.markDeletedIn(t);
        if (child.content instanceof Content.Type ct) stack.push(ct.children());
      } else if (child.clock < t.beforeState(child.client)) {
        t.mergeStructs.add(child); // gc'd later and worth merging, though not in this transaction's deletes
      }
    }
  }

  private void markDeletedIn(Transaction t) {
    markDeleted();
    t.deleteSet.add(client, clock, length);
    if (parent != null) t.addChanged(parent);
  }

  /**
   * Drops the content of this deleted item: to Deleted, or (inside a collected type) to a GC
   * struct. Everything inside a collected type becomes GC structs, iteratively.
   */
  void gc(StructStore store, boolean parentCollected) {
    if (!deleted()) throw new IllegalStateException("gc of an item that is not deleted");
    if (content instanceof Content.Type root) {
      ArrayDeque<YType> types = new ArrayDeque<>();
      types.push(root.type);
      while (!types.isEmpty()) {
        YType type = types.pop();
        for (Iterator<Item> it = Content.Type.allItems(type); it.hasNext(); ) {
          Item child = it.next();
          if (!child.deleted()) throw new IllegalStateException("gc of an item that is not deleted");
          if (child.content instanceof Content.Type ct) types.push(ct.type);
          store.replaceStruct(child, new GcStruct(child.client, child.clock, child.length));
        }
        type.start = null;
        type.map = null;
      }
    }
    if (parentCollected) {
      store.replaceStruct(this, new GcStruct(client, clock, length));
    } else {
      content = new Content.Deleted((int) length);
    }
  }

  /** Splits this item at {@code diff}; this keeps [0, diff) and the new right part is returned. */
  Item split(Transaction t, long diff) {
    Item r = new Item(client, clock + diff, content.splice((int) diff));
    r.left = this;
    r.originClient = client;
    r.originClock = clock + diff - 1;
    r.right = right;
    r.rightOriginClient = rightOriginClient;
    r.rightOriginClock = rightOriginClock;
    r.parent = parent;
    r.parentRef = parentRef;
    r.parentSub = parentSub;
    r.info = info;
    right = r;
    if (r.right != null) r.right.left = r;
    if (t != null) t.mergeStructs.add(r);
    if (r.parentSub != null && r.right == null && r.parent != null) r.parent.mapPut(r.parentSub, r);
    length = diff;
    return r;
  }

  /**
   * This (update-level, unlinked) item from {@code diff} on, as yjs's sliceStruct. Like yjs it cuts
   * this item's content: mergeUpdates slices only the struct it is about to skip past.
   */
  Item slice(long diff) {
    Item r = new Item(client, clock + diff, content.splice((int) diff));
    r.originClient = client;
    r.originClock = clock + diff - 1;
    r.rightOriginClient = rightOriginClient;
    r.rightOriginClock = rightOriginClock;
    r.parent = parent;
    r.parentRef = parentRef;
    r.parentSub = parentSub;
    return r;
  }

  @Override boolean mergeWith(Struct r) {
    if (r instanceof Item ri
        && ri.originClock == lastClock() && ri.originClient == client
        && right == ri
        && sameRightOrigin(ri)
        && client == ri.client
        && clock + length == ri.clock
        && deleted() == ri.deleted()
        && content.getClass() == ri.content.getClass()
        && content.mergeWith(ri.content)) {
      right = ri.right;
      if (right != null) right.left = this;
      length += ri.length;
      return true;
    }
    return false;
  }

  @Override void write(Lib0Encoder e, long offset) {
    boolean hasO = offset > 0 || hasOrigin();
    boolean hasRO = hasRightOrigin();
    int info = (content.ref() & 0x1F) | (hasO ? 0x80 : 0) | (hasRO ? 0x40 : 0) | (parentSub != null ? 0x20 : 0);
    e.writeUint8(info);
    if (hasO) {
      if (offset > 0) {
        e.writeVarUint(client);
        e.writeVarUint(clock + offset - 1);
      } else {
        e.writeVarUint(originClient);
        e.writeVarUint(originClock);
      }
    }
    if (hasRO) {
      e.writeVarUint(rightOriginClient);
      e.writeVarUint(rightOriginClock);
    }
    if (!hasO && !hasRO) {
      if (parent != null) {
        if (parent.item == null) {
          e.writeVarUint(1);
          e.writeVarString(parent.name);
        } else {
          e.writeVarUint(0);
          e.writeVarUint(parent.item.client);
          e.writeVarUint(parent.item.clock);
        }
      } else if (parentRef instanceof String name) {
        e.writeVarUint(1);
        e.writeVarString(name);
      } else if (parentRef instanceof Id p) {
        e.writeVarUint(0);
        e.writeVarUint(p.client());
        e.writeVarUint(p.clock());
      } else {
        throw new IllegalStateException("item " + client + ":" + clock + " has no parent to write");
      }
      if (parentSub != null) e.writeVarString(parentSub);
    }
    content.write(e, (int) offset);
  }
}
