package dev.ripple.collab.room;

import akka.actor.typed.ActorRef;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.room.RoomProtocol.Close;
import dev.ripple.collab.room.RoomProtocol.Outbound;
import dev.ripple.collab.room.RoomProtocol.Send;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A room's live connections (not persisted: they belong to the sockets) and the broadcast to them. */
final class Connections {
  private static final Logger log = LoggerFactory.getLogger(Connections.class);

  record Connection(ActorRef<Outbound> session, boolean readOnly) {}

  private final LinkedHashMap<String, Connection> byId = new LinkedHashMap<>();
  private final String roomId;
  private final Metrics metrics;

  Connections(String roomId, Metrics metrics) {
    this.roomId = roomId;
    this.metrics = metrics;
  }

  Connection get(String connectionId) {
    return byId.get(connectionId);
  }

  void add(String connectionId, Connection c) {
    byId.put(connectionId, c);
  }

  /** The connection removed, or null if it was not here. */
  Connection remove(String connectionId) {
    return byId.remove(connectionId);
  }

  boolean isEmpty() {
    return byId.isEmpty();
  }

  int size() {
    return byId.size();
  }

  /** One frame, encoded once, to every connection but {@code except} (null: to all). */
  void broadcast(byte[] frame, String except) {
    Send send = new Send(frame);
    for (Map.Entry<String, Connection> e : byId.entrySet()) {
      if (!e.getKey().equals(except)) e.getValue().session().tell(send);
    }
  }

  void tellAll(Outbound message) {
    for (Connection c : byId.values()) c.session().tell(message);
  }

  /** Closes one connection for what it sent; the room and its other connections carry on. */
  void close(String connectionId, Connection c, int code, String reason) {
    log.info("room {}: closing connection {} ({}): {}", roomId, connectionId, code, reason);
    metrics.connectionsClosedByServer.increment();
    c.session().tell(new Close(code, reason));
  }
}
