package dev.ripple.collab.session;

import akka.actor.typed.ActorRef;
import dev.ripple.collab.room.Room;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The open connections of this node, so that shutdown can close each with a code its client understands. */
public final class SessionRegistry {
  private final Set<ActorRef<Room.Outbound>> open = ConcurrentHashMap.newKeySet();

  private final java.util.concurrent.atomic.AtomicLong gauge;

  public SessionRegistry() {
    this(new java.util.concurrent.atomic.AtomicLong());
  }

  /** @param gauge kept equal to the number of open connections (the metrics' connections gauge) */
  public SessionRegistry(java.util.concurrent.atomic.AtomicLong gauge) {
    this.gauge = gauge;
  }

  /** Open connections per room on this node: what the upgrade is refused on when a room is full. */
  private final java.util.concurrent.ConcurrentHashMap<String, java.util.concurrent.atomic.AtomicInteger> perRoom =
      new java.util.concurrent.ConcurrentHashMap<>();

  void add(String roomId, ActorRef<Room.Outbound> session) {
    if (open.add(session)) {
      gauge.incrementAndGet();
      perRoom.computeIfAbsent(roomId, r -> new java.util.concurrent.atomic.AtomicInteger()).incrementAndGet();
    }
  }

  void remove(String roomId, ActorRef<Room.Outbound> session) {
    if (open.remove(session)) {
      gauge.decrementAndGet();
      perRoom.computeIfPresent(roomId, (r, n) -> n.decrementAndGet() <= 0 ? null : n);
    }
  }

  /** Open connections of {@code roomId} on this node. */
  public int count(String roomId) {
    java.util.concurrent.atomic.AtomicInteger n = perRoom.get(roomId);
    return n == null ? 0 : n.get();
  }

  public int size() {
    return open.size();
  }

  /** Closes every open connection with {@code code}; returns how many there were. */
  public int closeAll(int code, String reason) {
    int n = 0;
    for (ActorRef<Room.Outbound> s : open) {
      s.tell(new Room.Close(code, reason));
      n++;
    }
    return n;
  }
}
