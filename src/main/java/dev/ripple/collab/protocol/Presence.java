package dev.ripple.collab.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import dev.ripple.collab.yjs.Lib0Decoder;
import dev.ripple.collab.yjs.Lib0Encoder;
import dev.ripple.collab.yjs.UpdateFormatException;
import dev.ripple.collab.yjs.Utf8;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The awareness states of a room (cursors, user names) with the limits a server needs: which
 * connection controls which client ids, how many ids and how many bytes a connection may use, and
 * coalescing of what is relayed. The wire format is y-protocols' awareness update: a varUint count,
 * then per entry a varUint client id, a varUint clock and a varString of JSON ({@code null} removes
 * the client). {@link #validate} decodes and checks an update without touching any state, so sessions
 * run it on their own threads; the room then {@link #apply applies} the entries, and relays
 * {@link #flush} to every connection. Not thread-safe: one room, one thread.
 */
public final class Presence {
  /** JSON nested deeper than this is refused: no cursor or user name needs it, and parsers recurse. */
  public static final int MAX_JSON_DEPTH = 64;
  /** The smallest entry: one byte each of id, clock and length (an empty state is refused later). */
  private static final int MIN_ENTRY_BYTES = 3;
  private static final JsonFactory JSON = new JsonFactory();

  /**
   * @param maxIdsPerConnection client ids a connection may control at once (and announce in one update)
   * @param maxStateBytes the largest JSON state, in UTF-8 bytes
   */
  public record Limits(int maxIdsPerConnection, int maxStateBytes, int maxEntriesPerUpdate) {
    public Limits {
      if (maxIdsPerConnection < 1) throw new IllegalArgumentException("maxIdsPerConnection must be at least 1");
      if (maxStateBytes < 4) throw new IllegalArgumentException("maxStateBytes must be at least 4, for \"null\"");
      if (maxEntriesPerUpdate < maxIdsPerConnection) throw new IllegalArgumentException("maxEntriesPerUpdate must be at least maxIdsPerConnection");
    }

    /** An update may hold as many entries as the connection may control ids. */
    public Limits(int maxIdsPerConnection, int maxStateBytes) {
      this(maxIdsPerConnection, maxStateBytes, maxIdsPerConnection);
    }
  }

  /** One entry of an awareness update; {@code state} is the JSON text, or null for a removal. */
  public record Entry(long clientId, long clock, String state) {
    public Entry {
      if (clientId < 0 || clientId > Lib0Decoder.MAX_SAFE_INTEGER) throw new IllegalArgumentException("client id out of range: " + clientId);
      if (clock < 0 || clock > Lib0Decoder.MAX_SAFE_INTEGER) throw new IllegalArgumentException("clock out of range: " + clock);
    }

    public boolean isRemoval() {
      return state == null;
    }
  }

  /** A client id the room knows: live (state set, owned) or removed and waiting for the next flush. */
  private static final class Client {
    final long id;
    long clock;
    String state;
    Owner owner;
    boolean pending;

    Client(long id) {
      this.id = id;
    }
  }

  /** The live client ids one connection controls. */
  private static final class Owner {
    final List<Client> clients = new ArrayList<>(2);
  }

  private final Limits limits;
  private final HashMap<Long, Client> clients = new HashMap<>();
  /** Until {@link #removeConnection}, also for a connection whose ids were all removed. */
  private final HashMap<String, Owner> owners = new HashMap<>();
  /** Clients changed since the last flush, each once, in the order of their first change. */
  private final ArrayList<Client> pending = new ArrayList<>();
  private int live;
  private long skippedForeign;

  public Presence(Limits limits) {
    this.limits = limits;
  }

  public Limits limits() {
    return limits;
  }

  // ------------------------------------------------------------------ validation

  /**
   * Decodes an awareness update and checks it against the limits; pure, touches no state.
   *
   * @throws ProtocolException 1008 (policy violation) for more ids than a connection may control
   *     (refused from the header, before anything is allocated per entry), a state over
   *     {@code maxStateBytes}, or a state that is not exactly one JSON value nested at most
   *     {@link #MAX_JSON_DEPTH} deep; 1007 (invalid payload) for a malformed or truncated
   *     encoding, invalid UTF-8 or bytes after the last entry
   */
  public static List<Entry> validate(byte[] update, Limits limits) {
    return decode(update, limits, true);
  }

  /**
   * As {@link #validate} but without parsing the states as JSON: what a session checks before the
   * room sees an update. y-websocket's provider sends back every awareness change it receives (the
   * states of everyone in its room), so most entries a room gets are echoes of ids other connections
   * control, which {@link #apply} skips; parsing them would cost JSON work for every pair of clients.
   * {@link #apply} parses the states it accepts. A removal is the literal {@code null}.
   */
  public static List<Entry> decode(byte[] update, Limits limits) {
    return decode(update, limits, false);
  }

  private static List<Entry> decode(byte[] update, Limits limits, boolean json) {
    Lib0Decoder d = new Lib0Decoder(update);
    try {
      long count = d.readVarUint();
      if (count > limits.maxEntriesPerUpdate()) {
        throw new ProtocolException(CloseCodes.POLICY_VIOLATION, "awareness update announces " + count
            + " client ids; at most " + limits.maxEntriesPerUpdate() + " (connections per room x ids per connection)");
      }
      if (count * MIN_ENTRY_BYTES > d.remaining()) {
        throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "awareness update announces " + count
            + " entries in " + d.remaining() + " bytes");
      }
      List<Entry> entries = new ArrayList<>((int) count);
      for (int i = 0; i < count; i++) {
        long clientId = d.readVarUint();
        long clock = d.readVarUint();
        long length = d.readVarUint();
        if (length > d.remaining()) {
          throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "awareness state of client " + clientId
              + " claims " + length + " bytes, " + d.remaining() + " remain");
        }
        if (length > limits.maxStateBytes()) {
          throw new ProtocolException(CloseCodes.POLICY_VIOLATION, "awareness state of client " + clientId
              + " is " + length + " bytes; the limit is " + limits.maxStateBytes());
        }
        int start = d.pos();
        String text = Utf8.decodeStrict(update, start, (int) length);
        if (text == null) {
          throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "awareness state of client " + clientId + " is not valid UTF-8");
        }
        boolean removal = json ? isJsonNull(update, start, (int) length, clientId) : isNullLiteral(text);
        d.skip((int) length, "awareness state");
        entries.add(new Entry(clientId, clock, removal ? null : text));
      }
      if (d.hasContent()) {
        throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, d.remaining() + " bytes after the last awareness entry");
      }
      return entries;
    } catch (UpdateFormatException e) {
      throw new ProtocolException(CloseCodes.INVALID_PAYLOAD, "malformed awareness update: " + e.getMessage());
    }
  }

  /**
   * Checks that the bytes hold exactly one JSON value, as strictly as JavaScript's JSON.parse (which
   * every client runs on what we relay: one state it rejects breaks the whole update for them).
   * Returns whether that value is {@code null}, the removal.
   */
  private static boolean isJsonNull(byte[] buf, int off, int len, long clientId) {
    // lib0 decodes with ignoreBOM, so JSON.parse sees U+FEFF and throws; Jackson would skip it
    if (len >= 3 && (buf[off] & 0xFF) == 0xEF && (buf[off + 1] & 0xFF) == 0xBB && (buf[off + 2] & 0xFF) == 0xBF) {
      throw notJson(clientId, "starts with a byte order mark");
    }
    try (JsonParser p = JSON.createParser(buf, off, len)) {
      JsonToken first = p.nextToken();
      if (first == null) throw notJson(clientId, "empty");
      int depth = 0;
      for (JsonToken t = first; ; t = p.nextToken()) {
        if (t == null) throw notJson(clientId, "unexpected end");
        if (t.isStructStart()) {
          if (++depth > MAX_JSON_DEPTH) {
            throw new ProtocolException(CloseCodes.POLICY_VIOLATION, "awareness state of client " + clientId
                + " is nested deeper than " + MAX_JSON_DEPTH);
          }
        } else if (t.isStructEnd()) {
          depth--;
        } else if (t == JsonToken.VALUE_STRING) {
          p.getTextLength(); // decodes the string, so a bad escape is found even in a skipped value
        }
        if (depth == 0) break;
      }
      if (p.nextToken() != null) throw notJson(clientId, "more than one JSON value");
      return first == JsonToken.VALUE_NULL;
    } catch (IOException e) { // JsonProcessingException included: the parser's own reason
      String why = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
      throw notJson(clientId, LogSafe.of(why)); // Jackson quotes the client's bytes (an unrecognized token runs on over control characters)
    }
  }

  /** {@code null} between JSON whitespace: a removal, without parsing. */
  private static boolean isNullLiteral(String text) {
    int from = 0;
    int to = text.length();
    while (from < to && isJsonSpace(text.charAt(from))) from++;
    while (to > from && isJsonSpace(text.charAt(to - 1))) to--;
    return to - from == 4 && text.startsWith("null", from);
  }

  private static boolean isJsonSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
  }

  private static ProtocolException notJson(long clientId, String why) {
    return new ProtocolException(CloseCodes.POLICY_VIOLATION, "awareness state of client " + clientId + " is not JSON: " + why);
  }

  // ------------------------------------------------------------------ state

  /**
   * Applies a connection's validated entries, in order. An id owned by another connection is
   * skipped and counted in {@link #skippedForeign()}: a reconnecting client reuses its id while its
   * old socket may still look open, so this is not a reason to close. Otherwise the y-protocols
   * clock rule decides: a newer clock wins, and an equal clock with a null state removes a live
   * state. A state for an unowned id claims it for this connection; a removal releases it. Accepted
   * changes wait for {@link #flush}.
   *
   * @throws ProtocolException 1008 if the update would make the connection control more than
   *     {@code maxIdsPerConnection} ids; it is counted first, so a refused update changes nothing
   */
  public void apply(String connectionId, List<Entry> entries) {
    Owner owner = owners.get(connectionId);
    int owned = owner == null ? 0 : owner.clients.size();
    int claims = countClaims(entries);
    if (owned + claims > limits.maxIdsPerConnection()) {
      throw new ProtocolException(CloseCodes.POLICY_VIOLATION, "connection would control " + (owned + claims)
          + " awareness client ids; the limit is " + limits.maxIdsPerConnection());
    }
    // the states this update would store must be JSON (every client JSON.parses what we relay); echoes of
    // other connections' ids are skipped below unparsed. Checked before anything changes.
    for (Entry e : entries) {
      if (e.isRemoval()) continue;
      Client c = clients.get(e.clientId());
      if (c != null && c.owner != null && c.owner != owner) continue;
      if ((c == null ? 0 : c.clock) >= e.clock()) continue;
      byte[] bytes = e.state().getBytes(StandardCharsets.UTF_8);
      if (isJsonNull(bytes, 0, bytes.length, e.clientId())) {
        throw notJson(e.clientId(), "a removal must be the literal null");
      }
    }
    for (Entry e : entries) {
      Client c = clients.get(e.clientId());
      if (c != null && c.owner != null && c.owner != owner) {
        skippedForeign++;
        continue;
      }
      long current = c == null ? 0 : c.clock;
      boolean isLive = c != null && c.state != null;
      if (!(current < e.clock() || (current == e.clock() && e.isRemoval() && isLive))) continue;
      if (e.isRemoval()) {
        if (c == null) continue; // nothing to remove, nothing to tell anyone
        c.clock = e.clock();
        if (isLive) remove(c);
      } else {
        if (c == null) {
          c = new Client(e.clientId());
          clients.put(e.clientId(), c);
        }
        if (c.owner == null) {
          if (owner == null) {
            owner = new Owner();
            owners.put(connectionId, owner);
          }
          c.owner = owner;
          owner.clients.add(c);
          live++;
        }
        c.clock = e.clock();
        c.state = e.state();
      }
      markPending(c);
    }
  }

  /** Distinct unowned ids the entries would make live (an upper bound: releases are not subtracted). */
  private int countClaims(List<Entry> entries) {
    int claims = 0;
    long firstClaim = -1;
    Set<Long> seen = null;
    for (Entry e : entries) {
      if (e.isRemoval()) continue;
      Client c = clients.get(e.clientId());
      if (c != null && c.owner != null) continue; // already this connection's, or skipped as foreign
      long current = c == null ? 0 : c.clock;
      if (current >= e.clock()) continue; // stale: skipped
      if (claims == 0) {
        firstClaim = e.clientId();
        claims = 1;
      } else if (e.clientId() != firstClaim) {
        if (seen == null) {
          seen = new HashSet<>();
          seen.add(firstClaim);
        }
        if (seen.add(e.clientId())) claims++;
      }
    }
    return claims;
  }

  /** The connection left: each id it controls becomes a removal (clock + 1) in the next flush. */
  public void removeConnection(String connectionId) {
    Owner owner = owners.remove(connectionId);
    if (owner == null) return;
    for (Client c : owner.clients) {
      // at 2^53-1 the equal clock still removes a live state on every peer
      c.clock = Math.min(c.clock + 1, Lib0Decoder.MAX_SAFE_INTEGER);
      c.state = null;
      c.owner = null;
      live--;
      markPending(c);
    }
    owner.clients.clear();
  }

  /** A live client becomes a removal: no state, no owner. */
  private void remove(Client c) {
    c.state = null;
    c.owner.clients.remove(c);
    c.owner = null;
    live--;
  }

  private void markPending(Client c) {
    if (!c.pending) {
      c.pending = true;
      pending.add(c);
    }
  }

  /**
   * One awareness update holding the newest entry of every client id changed since the last flush,
   * or null if nothing changed. Removed ids are forgotten once flushed (their clock too), so ids that
   * come and go do not accumulate. The room relays this to every connection, the sender included:
   * a lone YPartyKitProvider needs the echo to keep its socket.
   */
  public byte[] flush() {
    if (pending.isEmpty()) return null;
    Lib0Encoder e = new Lib0Encoder(32 * pending.size());
    e.writeVarUint(pending.size());
    for (Client c : pending) {
      write(e, c);
      c.pending = false;
      if (c.state == null) clients.remove(c.id);
    }
    pending.clear();
    return e.toByteArray();
  }

  /** Every live state as one update (for a newcomer, or a query-awareness), or null if none. */
  public byte[] encodeAll() {
    if (live == 0) return null;
    Lib0Encoder e = new Lib0Encoder(32 * live);
    e.writeVarUint(live);
    for (Client c : clients.values()) {
      if (c.state != null) write(e, c);
    }
    return e.toByteArray();
  }

  /** Entries as one awareness update. */
  public static byte[] encode(Collection<Entry> entries) {
    Lib0Encoder e = new Lib0Encoder(32 * entries.size());
    e.writeVarUint(entries.size());
    for (Entry en : entries) {
      e.writeVarUint(en.clientId());
      e.writeVarUint(en.clock());
      e.writeVarString(en.state() == null ? "null" : en.state());
    }
    return e.toByteArray();
  }

  private static void write(Lib0Encoder e, Client c) {
    e.writeVarUint(c.id);
    e.writeVarUint(c.clock);
    e.writeVarString(c.state == null ? "null" : c.state);
  }

  /** Live states. */
  public int size() {
    return live;
  }

  /** Live client ids the connection controls. */
  public int idsOf(String connectionId) {
    Owner owner = owners.get(connectionId);
    return owner == null ? 0 : owner.clients.size();
  }

  /** Entries skipped because another connection controls their client id. */
  public long skippedForeign() {
    return skippedForeign;
  }

  /** Client ids held in memory: live ones and removals not flushed yet. */
  int trackedIds() {
    return clients.size();
  }
}
