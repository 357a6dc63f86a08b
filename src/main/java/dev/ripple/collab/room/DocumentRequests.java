package dev.ripple.collab.room;

import akka.actor.typed.ActorRef;
import dev.ripple.collab.protocol.LogSafe;
import dev.ripple.collab.room.RoomProtocol.DocumentData;
import dev.ripple.collab.room.RoomProtocol.DocumentReply;
import dev.ripple.collab.room.RoomProtocol.ReadJson;
import dev.ripple.collab.room.RoomProtocol.ReadUpdate;
import dev.ripple.collab.room.RoomProtocol.UpdateRefused;
import dev.ripple.collab.yjs.DocJson;
import dev.ripple.collab.yjs.UpdateFormatException;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The document API's reads of a room (its writes go through the {@link OutputGate}); a bad request is refused, 400. */
final class DocumentRequests {
  private static final Logger log = LoggerFactory.getLogger(DocumentRequests.class);

  private final String roomId;
  private final EncodedStateCache encoded;

  DocumentRequests(String roomId, EncodedStateCache encoded) {
    this.roomId = roomId;
    this.encoded = encoded;
  }

  /** The full state, or what a state vector lacks; a malformed vector is refused, 400. */
  void readUpdate(RoomState state, ReadUpdate c) {
    try {
      c.replyTo().tell(new DocumentData(c.stateVector() == null ? encoded.fullState(state) : encoded.missing(state, c.stateVector())));
    } catch (UpdateFormatException e) { // checked by the document API first; a node that did not check is answered the same
      c.replyTo().tell(new UpdateRefused(400, "bad_state_vector", "stateVector is not a Yjs state vector: " + e.getMessage()));
    } catch (RuntimeException e) {
      refuseUnexpected(roomId, c.replyTo(), "read", e);
    }
  }

  /** Named root types as JSON; a kind or a name no root can have is refused, 400. */
  void readJson(RoomState state, ReadJson c) {
    try {
      c.replyTo().tell(new DocumentData(DocJson.render(state.doc(), c.roots()).getBytes(StandardCharsets.UTF_8)));
    } catch (IllegalArgumentException e) {
      c.replyTo().tell(new UpdateRefused(400, "bad_request", e.getMessage()));
    } catch (RuntimeException e) {
      refuseUnexpected(roomId, c.replyTo(), "JSON read", e);
    }
  }

  /** A document API request the room failed on (a bug): 500 to its caller, the room carries on. */
  static void refuseUnexpected(String roomId, ActorRef<DocumentReply> replyTo, String what, RuntimeException e) {
    log.error("room {}: a document API {} failed", roomId, what, e);
    replyTo.tell(new UpdateRefused(500, "internal_error", "the room failed on this request: " + LogSafe.of(String.valueOf(e))));
  }
}
