package dev.ripple.collab.room;

import akka.actor.typed.ActorRef;
import akka.cluster.sharding.typed.javadsl.EntityTypeKey;
import dev.ripple.collab.protocol.SyncProtocol;
import java.util.List;
import java.util.Map;

/**
 * What sessions, the document API and the webhook outbox say to a room, and what it answers: the
 * room's message vocabulary, apart from its behaviour ({@link Room}). The room's own alarms and
 * completions are declared beside the part that owns them.
 */
public final class RoomProtocol {
  private RoomProtocol() {}

  /** Rooms in cluster sharding: one entity per room id. */
  public static final EntityTypeKey<Command> ENTITY_TYPE_KEY = EntityTypeKey.create(Command.class, "Room");

  /** What a room is told. */
  public interface Command {}

  /** A connection opened; the room answers with its sync step 1 and the awareness states. */
  public record Join(String connectionId, ActorRef<Outbound> session, boolean readOnly) implements Command {}

  /** A connection closed: its awareness states are removed and the removal announced. */
  public record Leave(String connectionId) implements Command {}

  /**
   * A decoded message from a client; {@code coalesced} client messages merged into it by the session
   * (updates merged into one, awareness reduced to the newest state per client id). The room answers
   * each with {@link Ack} once it has handled it (an update: once journaled), which reopens the
   * session's window.
   */
  public record FromClient(String connectionId, SyncProtocol.ClientMessage message, int coalesced) implements Command {
    public FromClient(String connectionId, SyncProtocol.ClientMessage message) {
      this(connectionId, message, 1);
    }
  }

  /**
   * The document API (server to server): the full state as one update, or what a state vector lacks
   * ({@code stateVector} null or empty: everything).
   */
  public record ReadUpdate(byte[] stateVector, ActorRef<DocumentReply> replyTo) implements Command {}

  /** The document API: named root types rendered as JSON (kind to names: text, map, array, xml). */
  public record ReadJson(Map<String, List<String>> roots, ActorRef<DocumentReply> replyTo) implements Command {}

  /** The document API: an update from the app's backend, applied like a client's (validated, journaled, broadcast). */
  public record ApplyUpdate(byte[] update, ActorRef<DocumentReply> replyTo) implements Command {}

  /** From the room's webhook outbox: it holds the notification of the first {@code updates} updates durably; the room may stop. */
  public record NotificationAccepted(long updates) implements Command {}

  /** From the room's webhook outbox: the receiver acknowledged the notification of the first {@code updates} updates. */
  public record NotificationDelivered(long updates) implements Command {}

  /**
   * Sharding's stop message (passivation, hand-off). A room with no connection stops at once. One
   * that has some (a Join that crossed its passivation, a rebalance) first tells each session to
   * {@link Rejoin}, keeps handling what they sent until each has left, and stops then, or after
   * {@code ripple.sessions.rejoin-timeout} at most: the connections move to the next incarnation
   * without closing, and nothing they sent meets a stopped room.
   */
  public record Stop() implements Command {
    public static final Stop INSTANCE = new Stop();
  }

  /** What the room answers the document API. */
  public sealed interface DocumentReply {}

  /** A read's result: a Yjs update or a JSON text. */
  public record DocumentData(byte[] data) implements DocumentReply {}

  /** An update is journaled (and broadcast); {@code updates}: the room's count of journaled updates. */
  public record UpdateJournaled(long updates) implements DocumentReply {}

  /** A request was refused: a client error (400 malformed, 413 over the pending cap) with a reason. */
  public record UpdateRefused(int status, String code, String message) implements DocumentReply {}

  /** What a room tells a session. Frames are encoded once and shared by every recipient. */
  public sealed interface Outbound {}

  public record Send(byte[] frame) implements Outbound {}

  /**
   * Sent to a session when it joins: the room's own address. The session watches it and, should the
   * room stop (its node left or died, or it moved), closes its socket with 1012 so the client
   * reconnects and resyncs with the room at its new home.
   */
  public record Joined(ActorRef<Command> room) implements Outbound {}

  public record Close(int code, String reason) implements Outbound {}

  /**
   * The room is stopping (see {@link Stop}): the session sends nothing more to it, leaves, and joins
   * the room again through sharding, sending there what this incarnation has not acknowledged.
   * {@code stateVector}: the document as this incarnation last sent it to the session; the session
   * asks the next incarnation for what is newer, on the client's behalf.
   */
  public record Rejoin(byte[] stateVector) implements Outbound {}

  /** The room has handled one {@link FromClient} of this session (an update: it is in the journal). */
  public record Ack() implements Outbound {
    public static final Ack INSTANCE = new Ack();
  }
}
