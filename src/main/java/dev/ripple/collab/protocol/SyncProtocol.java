package dev.ripple.collab.protocol;

import dev.ripple.collab.yjs.Lib0Decoder;
import dev.ripple.collab.yjs.Lib0Encoder;
import dev.ripple.collab.yjs.StateVectors;
import dev.ripple.collab.yjs.UpdateFormatException;
import java.util.List;

/**
 * The y-protocols wire format between a Yjs provider and the server: message type 0 (sync: step 1,
 * step 2, update), 1 (awareness), 2 (auth), 3 (query awareness). Decoding turns a binary frame
 * into a {@link ClientMessage}; the encoders build the frames the server sends.
 */
public final class SyncProtocol {
  private SyncProtocol() {}

  public static final int MESSAGE_SYNC = 0;
  public static final int MESSAGE_AWARENESS = 1;
  public static final int MESSAGE_AUTH = 2;
  public static final int MESSAGE_QUERY_AWARENESS = 3;
  /** "Tell me when it is saved" (y-sweet's number): echoed once every earlier update of the connection is journaled. */
  public static final int MESSAGE_SAVED = 102;
  public static final int SYNC_STEP1 = 0;
  public static final int SYNC_STEP2 = 1;
  public static final int SYNC_UPDATE = 2;

  /** A decoded client frame. Unknown message types are {@link Ignored}, as y-websocket ignores them. */
  public sealed interface ClientMessage {}

  public record SyncStep1(byte[] stateVector) implements ClientMessage {}

  /** Step 2 and update carry a Yjs update; both are applied the same way. */
  public record SyncUpdate(byte[] update, boolean step2) implements ClientMessage {}

  /**
   * An awareness update; {@code entries} are its validated entries once a session has checked it
   * against the limits ({@link Presence#validate}), null straight from the wire.
   */
  public record AwarenessUpdate(byte[] update, List<Presence.Entry> entries) implements ClientMessage {
    public AwarenessUpdate(byte[] update) {
      this(update, null);
    }
  }

  public record QueryAwareness() implements ClientMessage {}

  /**
   * {@code [102, varUint8Array(payload)]}: the client asks to hear back once everything it sent
   * before is durable. {@code frame} is the whole message, echoed unchanged.
   */
  public record SavedRequest(byte[] frame) implements ClientMessage {}

  public record Ignored(long type) implements ClientMessage {}

  public static ClientMessage decode(byte[] frame) {
    try {
      Lib0Decoder d = new Lib0Decoder(frame);
      long type = d.readVarUint();
      if (type == MESSAGE_SYNC) {
        long sub = d.readVarUint();
        byte[] payload = d.readVarBytes();
        if (sub == SYNC_STEP1) return new SyncStep1(payload);
        if (sub == SYNC_STEP2 || sub == SYNC_UPDATE) return new SyncUpdate(payload, sub == SYNC_STEP2);
        throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "unknown sync message type " + sub);
      }
      if (type == MESSAGE_AWARENESS) return new AwarenessUpdate(d.readVarBytes());
      if (type == MESSAGE_QUERY_AWARENESS) return new QueryAwareness();
      if (type == MESSAGE_SAVED) {
        d.readVarBytes(); // the payload is the client's; it must be well formed, and nothing may follow it
        if (d.hasContent()) throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "bytes after a saved request's payload");
        return new SavedRequest(frame);
      }
      return new Ignored(type);
    } catch (UpdateFormatException e) {
      throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "malformed message: " + e.getMessage());
    }
  }

  /**
   * Checks a sync step 1's state vector wholly ({@link StateVectors#validate}), for a session to run
   * on its own thread before the room sees the message.
   *
   * @throws ProtocolException 1007 (invalid payload) naming what is wrong
   */
  public static void validate(ClientMessage message) {
    if (!(message instanceof SyncStep1 step1)) return;
    try {
      StateVectors.validate(step1.stateVector());
    } catch (UpdateFormatException e) {
      throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "malformed state vector in sync step 1: " + e.getMessage());
    }
  }

  private static byte[] frame(int type, int sub, byte[] payload) {
    Lib0Encoder e = new Lib0Encoder(payload.length + 8);
    e.writeVarUint(type);
    if (sub >= 0) e.writeVarUint(sub);
    e.writeVarBytes(payload);
    return e.toByteArray();
  }

  public static byte[] syncStep1(byte[] stateVector) {
    return frame(MESSAGE_SYNC, SYNC_STEP1, stateVector);
  }

  public static byte[] syncStep2(byte[] update) {
    return frame(MESSAGE_SYNC, SYNC_STEP2, update);
  }

  public static byte[] update(byte[] update) {
    return frame(MESSAGE_SYNC, SYNC_UPDATE, update);
  }

  public static byte[] awareness(byte[] awarenessUpdate) {
    return frame(MESSAGE_AWARENESS, -1, awarenessUpdate);
  }

  /** y-protocols auth message "permission denied" with a reason (what read-only clients are told). */
  public static byte[] permissionDenied(String reason) {
    Lib0Encoder e = new Lib0Encoder(reason.length() + 4);
    e.writeVarUint(MESSAGE_AUTH);
    e.writeVarUint(0);
    e.writeVarString(reason);
    return e.toByteArray();
  }
}
