package dev.ripple.collab.room;

import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.SerializerWithStringManifest;
import dev.ripple.collab.protocol.LogSafe;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.yjs.Lib0Decoder;
import dev.ripple.collab.yjs.Lib0Encoder;
import java.io.NotSerializableException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Binary serialization of what rooms journal: a version byte followed by the raw bytes (a Yjs
 * update or a full state). No JSON, no base64: the journal holds what clients sent.
 */
public final class RoomSerializer extends SerializerWithStringManifest {
  private final ActorRefResolver refs;

  public RoomSerializer(ExtendedActorSystem system) {
    this.refs = ActorRefResolver.get(Adapter.toTyped(system));
  }

  private static final byte VERSION = 1;
  private static final String UPDATE = "U";
  private static final String COMPACTED = "C";
  /** A snapshot from before webhooks: read with nothing owed to the webhook. */
  private static final String SNAPSHOT_V1 = "S";
  /** A snapshot with the count of updates the webhook has been told of. */
  private static final String SNAPSHOT = "S2";
  private static final String WEBHOOK_DELIVERED = "W";
  /** BackupLoaded before it carried a count: the payload is the state alone (read only, as count 0). */
  private static final String LOADED_V1 = "L";
  /** BackupLoaded: the count of updates the backup covered (8 bytes), then the state. */
  private static final String LOADED = "L2";
  private static final String CONFIRMED = "B";
  // messages between nodes: a session on one node, its room on another
  private static final String JOIN = "J";
  private static final String LEAVE = "V";
  /** A client message without a count (nodes before coalescing): read as one message. */
  private static final String FROM_CLIENT_SINGLE = "F";
  /** A client message and how many client messages the session coalesced into it. */
  private static final String FROM_CLIENT = "G";
  private static final String ACK = "A";
  private static final String REJOIN = "RJN";
  // the document API: a node's HTTP route asks the room, wherever it lives
  private static final String READ_UPDATE = "RU";
  private static final String READ_JSON = "RJ";
  private static final String APPLY_UPDATE = "AU";
  private static final String DOCUMENT_DATA = "DD";
  private static final String UPDATE_JOURNALED = "UJ";
  private static final String UPDATE_REFUSED = "UR";
  private static final String SEND = "O";
  private static final String CLOSE = "X";
  private static final String JOINED = "R";
  // webhooks: a room and its outbox (WebhookOutbox), possibly on different nodes; the outbox's journal and snapshot
  private static final String NOTIFICATION_ACCEPTED = "NA";
  private static final String NOTIFICATION_DELIVERED = "ND";
  private static final String OUTBOX_DELIVER = "OD";
  private static final String OUTBOX_RESUME = "OR";
  private static final String OUTBOX_STOP = "OX";
  private static final String OUTBOX_OWED = "OO";
  private static final String OUTBOX_DELIVERED = "OK";
  private static final String OUTBOX_STATE = "OS";

  @Override
  public int identifier() {
    return 4711_0001;
  }

  @Override
  public String manifest(Object o) {
    if (o instanceof RoomEvent.UpdateApplied) return UPDATE;
    if (o instanceof RoomEvent.Compacted) return COMPACTED;
    if (o instanceof RoomState.Snapshot) return SNAPSHOT;
    if (o instanceof RoomEvent.WebhookDelivered) return WEBHOOK_DELIVERED;
    if (o instanceof RoomEvent.BackupLoaded) return LOADED;
    if (o instanceof RoomEvent.BackupConfirmed) return CONFIRMED;
    if (o instanceof RoomProtocol.Join) return JOIN;
    if (o instanceof RoomProtocol.Leave) return LEAVE;
    if (o instanceof RoomProtocol.FromClient) return FROM_CLIENT;
    if (o instanceof RoomProtocol.Send) return SEND;
    if (o instanceof RoomProtocol.Close) return CLOSE;
    if (o instanceof RoomProtocol.Joined) return JOINED;
    if (o instanceof RoomProtocol.Ack) return ACK;
    if (o instanceof RoomProtocol.Rejoin) return REJOIN;
    if (o instanceof RoomProtocol.ReadUpdate) return READ_UPDATE;
    if (o instanceof RoomProtocol.ReadJson) return READ_JSON;
    if (o instanceof RoomProtocol.ApplyUpdate) return APPLY_UPDATE;
    if (o instanceof RoomProtocol.DocumentData) return DOCUMENT_DATA;
    if (o instanceof RoomProtocol.UpdateJournaled) return UPDATE_JOURNALED;
    if (o instanceof RoomProtocol.UpdateRefused) return UPDATE_REFUSED;
    if (o instanceof RoomProtocol.NotificationAccepted) return NOTIFICATION_ACCEPTED;
    if (o instanceof RoomProtocol.NotificationDelivered) return NOTIFICATION_DELIVERED;
    if (o instanceof WebhookOutbox.Deliver) return OUTBOX_DELIVER;
    if (o instanceof WebhookOutbox.Resume) return OUTBOX_RESUME;
    if (o instanceof WebhookOutbox.Stop) return OUTBOX_STOP;
    if (o instanceof WebhookOutbox.Owed) return OUTBOX_OWED;
    if (o instanceof WebhookOutbox.Delivered) return OUTBOX_DELIVERED;
    if (o instanceof WebhookOutbox.State) return OUTBOX_STATE;
    throw new IllegalArgumentException("cannot serialize " + o.getClass());
  }

  @Override
  public byte[] toBinary(Object o) {
    byte[] payload;
    if (o instanceof RoomEvent.UpdateApplied u) payload = u.update();
    else if (o instanceof RoomEvent.Compacted) payload = new byte[0];
    else if (o instanceof RoomState.Snapshot s) payload = snapshot(s);
    else if (o instanceof RoomEvent.WebhookDelivered w) payload = ByteBuffer.allocate(8).putLong(w.updates()).array();
    else if (o instanceof RoomEvent.BackupLoaded l) payload = ByteBuffer.allocate(8 + l.state().length).putLong(l.updates()).put(l.state()).array();
    else if (o instanceof RoomEvent.BackupConfirmed c) payload = ByteBuffer.allocate(8).putLong(c.updates()).array();
    else if (o instanceof RoomProtocol.Join j) payload = strings(j.connectionId(), refs.toSerializationFormat(j.session()), j.readOnly() ? "r" : "w");
    else if (o instanceof RoomProtocol.Leave l) payload = strings(l.connectionId());
    else if (o instanceof RoomProtocol.FromClient f) payload = concat(idAndCount(f.connectionId(), f.coalesced()), clientFrame(f.message()));
    else if (o instanceof RoomProtocol.Ack) payload = new byte[0];
    else if (o instanceof RoomProtocol.Rejoin r) payload = r.stateVector();
    else if (o instanceof RoomProtocol.ReadUpdate r) {
      Lib0Encoder e = new Lib0Encoder();
      e.writeVarString(refs.toSerializationFormat(r.replyTo()));
      e.writeVarUint(r.stateVector() == null ? 0 : 1);
      e.writeVarBytes(r.stateVector() == null ? new byte[0] : r.stateVector());
      payload = e.toByteArray();
    } else if (o instanceof RoomProtocol.ReadJson r) {
      Lib0Encoder e = new Lib0Encoder();
      e.writeVarString(refs.toSerializationFormat(r.replyTo()));
      e.writeVarUint(r.roots().size());
      r.roots().forEach((kind, names) -> {
        e.writeVarString(kind);
        e.writeVarUint(names.size());
        for (String n : names) e.writeVarString(n);
      });
      payload = e.toByteArray();
    } else if (o instanceof RoomProtocol.ApplyUpdate a) {
      payload = concat(strings(refs.toSerializationFormat(a.replyTo())), a.update());
    } else if (o instanceof RoomProtocol.DocumentData d) payload = d.data();
    else if (o instanceof RoomProtocol.UpdateJournaled j) payload = ByteBuffer.allocate(8).putLong(j.updates()).array();
    else if (o instanceof RoomProtocol.UpdateRefused r) payload = strings(Integer.toString(r.status()), r.code(), r.message());
    else if (o instanceof RoomProtocol.Send snd) payload = snd.frame();
    else if (o instanceof RoomProtocol.Joined jd) payload = strings(refs.toSerializationFormat(jd.room()));
    else if (o instanceof RoomProtocol.Close cl) payload = strings(Integer.toString(cl.code()), cl.reason() == null ? "" : cl.reason());
    else if (o instanceof RoomProtocol.NotificationAccepted a) payload = ByteBuffer.allocate(8).putLong(a.updates()).array();
    else if (o instanceof RoomProtocol.NotificationDelivered d) payload = ByteBuffer.allocate(8).putLong(d.updates()).array();
    else if (o instanceof WebhookOutbox.Deliver d) {
      Lib0Encoder e = new Lib0Encoder();
      e.writeVarString(refs.toSerializationFormat(d.room()));
      payload = concat(e.toByteArray(), ByteBuffer.allocate(8 + d.stateVector().length).putLong(d.updates()).put(d.stateVector()).array());
    } else if (o instanceof WebhookOutbox.Resume || o instanceof WebhookOutbox.Stop) payload = new byte[0];
    else if (o instanceof WebhookOutbox.Owed w) payload = ByteBuffer.allocate(8 + w.stateVector().length).putLong(w.updates()).put(w.stateVector()).array();
    else if (o instanceof WebhookOutbox.Delivered d) payload = ByteBuffer.allocate(8).putLong(d.updates()).array();
    else if (o instanceof WebhookOutbox.State st) {
      // owed count (8), delivered count (8), then the owed state vector
      payload = ByteBuffer.allocate(16 + st.stateVector().length).putLong(st.owedUpdates()).putLong(st.deliveredUpdates())
          .put(st.stateVector()).array();
    }
    else throw new IllegalArgumentException("cannot serialize " + o.getClass());
    byte[] out = new byte[payload.length + 1];
    out[0] = VERSION;
    System.arraycopy(payload, 0, out, 1, payload.length);
    return out;
  }

  private static byte[] strings(String... values) {
    Lib0Encoder e = new Lib0Encoder();
    for (String v : values) e.writeVarString(v);
    return e.toByteArray();
  }

  private static byte[] idAndCount(String id, int count) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarString(id);
    e.writeVarUint(count);
    return e.toByteArray();
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** A decoded client message back in its wire form (the decoder reads it again on the room's node). */
  private static byte[] clientFrame(SyncProtocol.ClientMessage m) {
    if (m instanceof SyncProtocol.SyncStep1 s1) return SyncProtocol.syncStep1(s1.stateVector());
    if (m instanceof SyncProtocol.SyncUpdate u) {
      return u.step2() ? SyncProtocol.syncStep2(u.update()) : SyncProtocol.update(u.update());
    }
    if (m instanceof SyncProtocol.AwarenessUpdate a) return SyncProtocol.awareness(a.update());
    if (m instanceof SyncProtocol.SavedRequest s) return s.frame();
    if (m instanceof SyncProtocol.QueryAwareness) return new byte[] {SyncProtocol.MESSAGE_QUERY_AWARENESS};
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(((SyncProtocol.Ignored) m).type());
    return e.toByteArray();
  }

  /** Snapshot payload: updates (8 bytes), saved updates (8), notified updates (8), loaded flag (1), then the document state. */
  private static byte[] snapshot(RoomState.Snapshot s) {
    return ByteBuffer.allocate(25 + s.state().length).putLong(s.updates()).putLong(s.savedUpdates())
        .putLong(s.notifiedUpdates()).put((byte) (s.loaded() ? 1 : 0)).put(s.state()).array();
  }

  private static RoomState.Snapshot snapshot(byte[] payload, boolean withNotified) throws NotSerializableException {
    int header = withNotified ? 25 : 17;
    if (payload.length < header) throw new NotSerializableException("room snapshot too short");
    ByteBuffer b = ByteBuffer.wrap(payload);
    long updates = b.getLong();
    long saved = b.getLong();
    long notified = withNotified ? b.getLong() : updates; // before webhooks nothing was owed
    boolean loaded = b.get() != 0;
    return new RoomState.Snapshot(Arrays.copyOfRange(payload, header, payload.length), updates, saved, loaded, notified);
  }

  /** The 8-byte count at the start of a payload. */
  private static long count(byte[] payload, String manifest) throws NotSerializableException {
    if (payload.length < 8) throw new NotSerializableException("payload of " + manifest + " too short");
    return ByteBuffer.wrap(payload).getLong();
  }

  /**
   * Reads a journaled event or a message from another node. Bytes it cannot read are refused as a
   * NotSerializableException naming the manifest, whatever failed inside the decoders: Artery logs
   * and drops such a message, so it never reaches a room (in a recovery it fails the recovery, as a
   * corrupt journal must).
   */
  @Override
  public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
    try {
      return read(bytes, manifest);
    } catch (NotSerializableException | RuntimeException e) {
      NotSerializableException refused = new NotSerializableException("malformed room message "
          + LogSafe.of(manifest) + " (" + bytes.length + " bytes): " + e.getMessage());
      refused.initCause(e);
      throw refused;
    }
  }

  private Object read(byte[] bytes, String manifest) throws NotSerializableException {
    if (bytes.length == 0 || bytes[0] != VERSION) {
      throw new NotSerializableException("unknown room serialization version in " + manifest);
    }
    byte[] payload = Arrays.copyOfRange(bytes, 1, bytes.length);
    return switch (manifest) {
      case UPDATE -> new RoomEvent.UpdateApplied(payload);
      case COMPACTED -> new RoomEvent.Compacted();
      case SNAPSHOT -> snapshot(payload, true);
      case SNAPSHOT_V1 -> snapshot(payload, false);
      case WEBHOOK_DELIVERED -> new RoomEvent.WebhookDelivered(ByteBuffer.wrap(payload).getLong());
      case LOADED_V1 -> new RoomEvent.BackupLoaded(payload, 0);
      case LOADED -> {
        if (payload.length < 8) throw new NotSerializableException("room backup-loaded event too short");
        yield new RoomEvent.BackupLoaded(Arrays.copyOfRange(payload, 8, payload.length), ByteBuffer.wrap(payload).getLong());
      }
      case CONFIRMED -> new RoomEvent.BackupConfirmed(ByteBuffer.wrap(payload).getLong());
      case JOIN -> {
        Lib0Decoder d = new Lib0Decoder(payload);
        String id = d.readVarString();
        ActorRef<RoomProtocol.Outbound> session = refs.resolveActorRef(d.readVarString());
        yield new RoomProtocol.Join(id, session, d.readVarString().equals("r"));
      }
      case LEAVE -> new RoomProtocol.Leave(new Lib0Decoder(payload).readVarString());
      case FROM_CLIENT, FROM_CLIENT_SINGLE -> {
        Lib0Decoder d = new Lib0Decoder(payload);
        String id = d.readVarString();
        // a count only for metrics: at least the one message it is
        int count = manifest.equals(FROM_CLIENT) ? (int) Math.max(1, Math.min(Integer.MAX_VALUE, d.readVarUint())) : 1;
        yield new RoomProtocol.FromClient(id, SyncProtocol.decode(Arrays.copyOfRange(payload, d.pos(), payload.length)), count);
      }
      case ACK -> RoomProtocol.Ack.INSTANCE;
      case REJOIN -> new RoomProtocol.Rejoin(payload);
      case READ_UPDATE -> {
        Lib0Decoder d = new Lib0Decoder(payload);
        ActorRef<RoomProtocol.DocumentReply> replyTo = refs.resolveActorRef(d.readVarString());
        boolean diff = d.readVarUint() == 1;
        byte[] sv = d.readVarBytes();
        yield new RoomProtocol.ReadUpdate(diff ? sv : null, replyTo);
      }
      case READ_JSON -> {
        Lib0Decoder d = new Lib0Decoder(payload);
        ActorRef<RoomProtocol.DocumentReply> replyTo = refs.resolveActorRef(d.readVarString());
        Map<String, List<String>> roots = new LinkedHashMap<>();
        long kinds = d.readVarUint();
        for (long k = 0; k < kinds; k++) {
          String kind = d.readVarString();
          long n = d.readVarUint();
          List<String> names = new ArrayList<>();
          for (long i = 0; i < n; i++) names.add(d.readVarString());
          roots.put(kind, names);
        }
        yield new RoomProtocol.ReadJson(roots, replyTo);
      }
      case APPLY_UPDATE -> {
        Lib0Decoder d = new Lib0Decoder(payload);
        ActorRef<RoomProtocol.DocumentReply> replyTo = refs.resolveActorRef(d.readVarString());
        yield new RoomProtocol.ApplyUpdate(Arrays.copyOfRange(payload, d.pos(), payload.length), replyTo);
      }
      case DOCUMENT_DATA -> new RoomProtocol.DocumentData(payload);
      case UPDATE_JOURNALED -> new RoomProtocol.UpdateJournaled(ByteBuffer.wrap(payload).getLong());
      case UPDATE_REFUSED -> {
        Lib0Decoder d = new Lib0Decoder(payload);
        int status = Integer.parseInt(d.readVarString());
        yield new RoomProtocol.UpdateRefused(status, d.readVarString(), d.readVarString());
      }
      case SEND -> new RoomProtocol.Send(payload);
      case JOINED -> new RoomProtocol.Joined(refs.resolveActorRef(new Lib0Decoder(payload).readVarString()));
      case CLOSE -> {
        Lib0Decoder d = new Lib0Decoder(payload);
        int code = Integer.parseInt(d.readVarString());
        yield new RoomProtocol.Close(code, d.readVarString());
      }
      case NOTIFICATION_ACCEPTED -> new RoomProtocol.NotificationAccepted(count(payload, manifest));
      case NOTIFICATION_DELIVERED -> new RoomProtocol.NotificationDelivered(count(payload, manifest));
      case OUTBOX_DELIVER -> {
        Lib0Decoder d = new Lib0Decoder(payload);
        ActorRef<RoomProtocol.Command> room = refs.resolveActorRef(d.readVarString());
        byte[] rest = Arrays.copyOfRange(payload, d.pos(), payload.length);
        yield new WebhookOutbox.Deliver(count(rest, manifest), Arrays.copyOfRange(rest, 8, rest.length), room);
      }
      case OUTBOX_RESUME -> WebhookOutbox.Resume.INSTANCE;
      case OUTBOX_STOP -> WebhookOutbox.Stop.INSTANCE;
      case OUTBOX_OWED -> new WebhookOutbox.Owed(count(payload, manifest), Arrays.copyOfRange(payload, 8, payload.length));
      case OUTBOX_DELIVERED -> new WebhookOutbox.Delivered(count(payload, manifest));
      case OUTBOX_STATE -> {
        if (payload.length < 16) throw new NotSerializableException("webhook outbox snapshot too short");
        ByteBuffer b = ByteBuffer.wrap(payload);
        long owed = b.getLong();
        long delivered = b.getLong();
        yield new WebhookOutbox.State(owed, Arrays.copyOfRange(payload, 16, payload.length), delivered);
      }
      default -> throw new NotSerializableException("unknown manifest " + manifest);
    };
  }
}
