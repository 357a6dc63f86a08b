package dev.ripple.collab.room;

import dev.ripple.collab.config.Settings;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.Connections.Connection;
import dev.ripple.collab.room.RoomEvent.Compacted;
import dev.ripple.collab.room.RoomEvent.UpdateApplied;
import dev.ripple.collab.room.RoomProtocol.Ack;
import dev.ripple.collab.room.RoomProtocol.ApplyUpdate;
import dev.ripple.collab.room.RoomProtocol.Send;
import dev.ripple.collab.room.RoomProtocol.UpdateJournaled;
import dev.ripple.collab.room.RoomProtocol.UpdateRefused;
import dev.ripple.collab.yjs.PendingLimitException;
import dev.ripple.collab.yjs.UpdateFormatException;
import dev.ripple.collab.yjs.YDoc;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The output gate, for a client's update and the document API's alike: an update is validated against
 * the document (format, pending cap, document size), journaled (with a compaction when the history
 * limits are reached), and only then broadcast and acknowledged. Nobody sees an update before the
 * journal has it; an update that changes nothing is acknowledged without a journal entry.
 */
final class OutputGate {
  private final String roomId;
  private final Settings settings;
  private final Metrics metrics;
  private final EncodedStateCache encoded;
  private final Connections connections;
  private final ChangeNotification notifications;
  /**
   * What the gate knows of the document's encoded size: the last exact measure plus every update
   * journaled since (an upper bound: deletes can shrink a document). -1: not measured yet.
   */
  private long documentBytesBound = -1;
  /** An event journaled with the next update, in the same write (the load of an empty backup); null when none. */
  private RoomEvent beforeNextUpdate;

  OutputGate(RoomContext room, EncodedStateCache encoded, Connections connections, ChangeNotification notifications) {
    this.roomId = room.roomId();
    this.settings = room.settings();
    this.metrics = room.metrics();
    this.encoded = encoded;
    this.connections = connections;
    this.notifications = notifications;
  }

  /**
   * Journals {@code event} in the same write as the next update instead of on its own: a new document's
   * empty backup load costs no journal write, and a room nobody edits never writes at all.
   */
  void journalBeforeNextUpdate(RoomEvent event) {
    beforeNextUpdate = event;
  }

  /** An event waits for the next update: what it records is true of the room, though not yet journaled. */
  boolean holdsUnjournaled() {
    return beforeNextUpdate != null;
  }

  /** The document changed other than through the gate (a backup merged): measure it again before the next update. */
  void remeasure() {
    documentBytesBound = -1;
  }

  /**
   * A client's update: refused to a read-only connection, closes the connection past the pending cap
   * or the document size, else journaled; the sender's Ack (which reopens its window) follows the
   * journal. A malformed update throws {@link UpdateFormatException} (the room closes the connection).
   */
  Step clientUpdate(RoomState state, String connectionId, Connection c, byte[] update, int coalesced) {
    if (c.readOnly()) {
      c.session().tell(new Send(SyncProtocol.permissionDenied("read-only connection: updates are not applied")));
      c.session().tell(Ack.INSTANCE);
      return Step.none();
    }
    YDoc.PreparedUpdate prepared;
    try {
      prepared = state.doc().prepare(update);
    } catch (PendingLimitException e) {
      connections.close(connectionId, c, CloseCodes.POLICY_VIOLATION, e.getMessage());
      return Step.none();
    }
    if (prepared.isEmpty() || prepared.isRedundant()) {
      // nothing new (a client's sync step 2, an update sent again after a rejoin, an echo): no journal entry,
      // no broadcast (everyone has it: it was journaled and broadcast when it was new)
      c.session().tell(Ack.INSTANCE);
      return Step.none();
    }
    if (tooLarge(state, update)) {
      metrics.updatesRefusedDocumentTooLarge.increment();
      connections.close(connectionId, c, CloseCodes.TOO_BIG, tooLargeReason(update));
      return Step.none();
    }
    return journalAndBroadcast(state, prepared, update, coalesced, connectionId, s -> c.session().tell(Ack.INSTANCE));
  }

  /** An update from the document API: the same gate as a client's, answered once journaled (or refused, 400/413). */
  Step apiUpdate(RoomState state, ApplyUpdate c) {
    YDoc.PreparedUpdate prepared;
    try {
      prepared = state.doc().prepare(c.update());
    } catch (PendingLimitException e) {
      c.replyTo().tell(new UpdateRefused(413, "pending_limit", e.getMessage()));
      return Step.none();
    } catch (UpdateFormatException e) {
      c.replyTo().tell(new UpdateRefused(400, "malformed_update", e.getMessage()));
      return Step.none();
    } catch (RuntimeException e) {
      DocumentRequests.refuseUnexpected(roomId, c.replyTo(), "update", e);
      return Step.none();
    }
    if (prepared.isEmpty() || prepared.isRedundant()) { // already in the document: nothing to journal
      c.replyTo().tell(new UpdateJournaled(state.updates()));
      return Step.none();
    }
    if (tooLarge(state, c.update())) {
      metrics.updatesRefusedDocumentTooLarge.increment();
      c.replyTo().tell(new UpdateRefused(413, "document_too_large", tooLargeReason(c.update())));
      return Step.none();
    }
    return journalAndBroadcast(state, prepared, c.update(), 1, null, s -> c.replyTo().tell(new UpdateJournaled(s.updates())));
  }

  /**
   * Whether {@code update} would take the document past max-document-bytes. Measured exactly (one
   * encoding, which the full-state cache keeps) only when the bound says it might.
   */
  private boolean tooLarge(RoomState state, byte[] update) {
    long cap = settings.maxDocumentBytes();
    if (documentBytesBound >= 0 && documentBytesBound + update.length <= cap) return false;
    documentBytesBound = encoded.fullState(state).length;
    return documentBytesBound + update.length > cap;
  }

  private String tooLargeReason(byte[] update) {
    return "document too large: " + documentBytesBound + " bytes, and this update of " + update.length
        + " would pass the room's limit of " + settings.maxDocumentBytes();
  }

  /** Journals a validated update, then broadcasts it to every connection but {@code except} and tells the sender. */
  private Step journalAndBroadcast(RoomState state, YDoc.PreparedUpdate prepared, byte[] update, int coalesced,
      String except, Consumer<RoomState> journaled) {
    byte[] frame = SyncProtocol.update(update);
    List<RoomEvent> events = new ArrayList<>(3);
    if (beforeNextUpdate != null) {
      events.add(beforeNextUpdate); // changes no document: the prepared update stays valid
      beforeNextUpdate = null;
    }
    events.add(new UpdateApplied(update, prepared));
    if (settings.persistenceMode() == Settings.PersistenceMode.HISTORY
        && (state.bytesSinceCompaction() + update.length > settings.historyMaxBytes()
            || state.updatesSinceCompaction() + 1 >= settings.historyMaxUpdates())) {
      events.add(new Compacted());
    }
    long received = System.nanoTime();
    return Step.persist(events, s -> {
      if (documentBytesBound >= 0) documentBytesBound += update.length;
      metrics.journalWriteSeconds.observeNanos(System.nanoTime() - received);
      metrics.updatesApplied.add(coalesced);
      metrics.journalWrites.increment();
      metrics.updateBytes.add(update.length);
      connections.broadcast(frame, except);
      journaled.accept(s);
      notifications.changed();
      metrics.fanOutSeconds.observeNanos(System.nanoTime() - received);
    });
  }
}
