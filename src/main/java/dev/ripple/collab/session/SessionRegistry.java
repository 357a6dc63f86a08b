package dev.ripple.collab.session;

import akka.actor.typed.ActorRef;
import dev.ripple.collab.auth.Access;
import dev.ripple.collab.protocol.InboundBudget;
import dev.ripple.collab.room.RoomProtocol;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** The open connections of this node, so that shutdown can close each with a code its client understands. */
public final class SessionRegistry {
  private final Set<ActorRef<RoomProtocol.Outbound>> open = ConcurrentHashMap.newKeySet();

  private final AtomicLong gauge;

  private final InboundBudget inbound;

  public SessionRegistry() {
    this(new AtomicLong());
  }

  /** @param gauge kept equal to the number of open connections (the metrics' connections gauge) */
  public SessionRegistry(AtomicLong gauge) {
    this(gauge, InboundBudget.UNLIMITED);
  }

  /** @param inbound the node's budget for bytes of client messages still arriving, shared by its connections */
  public SessionRegistry(AtomicLong gauge, InboundBudget inbound) {
    this.gauge = gauge;
    this.inbound = inbound;
  }

  public InboundBudget inbound() {
    return inbound;
  }

  /** Open connections per room on this node: what the upgrade is refused on when a room is full. */
  private final ConcurrentHashMap<String, AtomicInteger> perRoom =
      new ConcurrentHashMap<>();

  /** What a connection was let in with, for re-verification: its token and address, the access it got. */
  public record Credentials(String token, String clientAddress, Access access) {}

  /** An open connection with its credentials: what {@link Reverifier} checks again now and then. */
  public record Authenticated(String roomId, String connectionId, Credentials credentials, ActorRef<RoomProtocol.Outbound> session) {}

  /** Credentials of connections being upgraded, until their session starts (bounded by the upgrades in flight). */
  private final ConcurrentHashMap<String, Credentials> expected = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Authenticated> authenticated = new ConcurrentHashMap<>();

  /** The connection {@code connectionId}, about to be upgraded, was let in with {@code credentials}. */
  public void expect(String connectionId, Credentials credentials) {
    expected.put(connectionId, credentials);
  }

  /** The open connections that came in with credentials. */
  public Collection<Authenticated> authenticated() {
    return authenticated.values();
  }

  void add(String roomId, String connectionId, ActorRef<RoomProtocol.Outbound> session) {
    if (open.add(session)) {
      gauge.incrementAndGet();
      perRoom.computeIfAbsent(roomId, r -> new AtomicInteger()).incrementAndGet();
      Credentials credentials = expected.remove(connectionId);
      if (credentials != null) authenticated.put(connectionId, new Authenticated(roomId, connectionId, credentials, session));
    }
  }

  void remove(String roomId, String connectionId, ActorRef<RoomProtocol.Outbound> session) {
    expected.remove(connectionId); // an upgrade whose session never started
    if (open.remove(session)) {
      gauge.decrementAndGet();
      perRoom.computeIfPresent(roomId, (r, n) -> n.decrementAndGet() <= 0 ? null : n);
      authenticated.remove(connectionId);
    }
  }

  /** Open connections of {@code roomId} on this node. */
  public int count(String roomId) {
    AtomicInteger n = perRoom.get(roomId);
    return n == null ? 0 : n.get();
  }

  public int size() {
    return open.size();
  }

  /** Closes every open connection with {@code code}; returns how many there were. */
  public int closeAll(int code, String reason) {
    int n = 0;
    for (ActorRef<RoomProtocol.Outbound> s : open) {
      s.tell(new RoomProtocol.Close(code, reason));
      n++;
    }
    return n;
  }
}
