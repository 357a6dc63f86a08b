package dev.ripple.collab.protocol;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Objects;

/**
 * Reassembles YPartyKitProvider's chunked messages: a text frame
 * {@code y-pk-batch#{"id","type":"start","size","count"}}, that many binary chunks, and an end marker
 * with the same fields. Limits the total size and chunk count; anything inconsistent is a
 * {@link ProtocolException} that closes the connection; client text in its message goes through
 * {@link LogSafe}.
 *
 * <p>A marker is bounded before it is read ({@link #MAX_MARKER_CHARS}) and read token by token,
 * refused at the first token that a flat object of four scalar fields cannot have: a client's text
 * frame is never turned into a tree (three 30 MB arrays of {@code {}} took the heap to 2 GB that way).
 */
public final class BatchAssembler {
  public static final String SENTINEL = "y-pk-batch";
  /**
   * The longest marker read, sentinel included. y-partykit's are about 80 characters
   * ({@code y-pk-batch#{"id":"<9 characters>","type":"start","size":N,"count":N}}); the bound leaves
   * room for any id a client may choose and keeps what one connection makes the server read small.
   */
  public static final int MAX_MARKER_CHARS = 4096;
  /** Markers of every connection: a JsonFactory is thread-safe. No field-name canonicalization: no table shared across clients. */
  private static final JsonFactory MARKER_JSON = JsonFactory.builder().disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES).build();

  private final long maxBytes;
  private final int maxChunks;
  private String id;
  private long size;
  private long count;
  private ByteArrayOutputStream buffer;
  private int chunks;

  private final InboundBudget budget;
  /** Bytes of the current batch taken from the budget. */
  private long reserved;

  public BatchAssembler(long maxBytes, int maxChunks) {
    this(maxBytes, maxChunks, InboundBudget.UNLIMITED);
  }

  /** @param budget what the chunks of a batch being received take from, across connections */
  public BatchAssembler(long maxBytes, int maxChunks, InboundBudget budget) {
    this.maxBytes = maxBytes;
    this.maxChunks = maxChunks;
    this.budget = budget;
  }

  /** Gives back what the batch being received took (at its end, or when the connection ends). */
  public void release() {
    budget.release(reserved);
    reserved = 0;
  }

  public static boolean isMarker(String text) {
    return text.startsWith(SENTINEL);
  }

  public boolean inBatch() {
    return buffer != null;
  }

  /** A text frame: returns the assembled message at an end marker, else null. Non-marker text is ignored. */
  public byte[] onText(String text) {
    if (!isMarker(text)) return null;
    if (text.length() > MAX_MARKER_CHARS) {
      // refused from its length alone: nothing of it is copied or parsed
      throw bad("batch marker of " + text.length() + " characters; a marker has at most " + MAX_MARKER_CHARS);
    }
    int hash = text.indexOf('#');
    if (hash < 0) throw bad("batch marker without data");
    Marker m = Marker.parse(text.substring(hash + 1));
    if (m.type().equals("start")) {
      if (m.size() < 0 || m.size() > maxBytes) {
        throw new ProtocolException(CloseCodes.TOO_BIG, "batch of " + m.size() + " bytes exceeds the limit of " + maxBytes);
      }
      if (m.count() < 0 || m.count() > maxChunks) {
        throw new ProtocolException(CloseCodes.TOO_BIG, "batch of " + m.count() + " chunks exceeds the limit of " + maxChunks);
      }
      id = m.id();
      size = m.size();
      count = m.count();
      buffer = new ByteArrayOutputStream((int) Math.min(size, 1 << 20));
      chunks = 0;
      return null;
    }
    if (buffer == null) throw bad("batch end without start");
    try {
      if (!Objects.equals(id, m.id()) || m.size() != size || m.count() != count) {
        throw bad("batch end does not match its start");
      }
      if (chunks != count || buffer.size() != size) {
        throw bad("batch received " + chunks + " chunks / " + buffer.size() + " bytes, announced " + count + " / " + size);
      }
      return buffer.toByteArray();
    } finally {
      buffer = null;
      id = null;
      release();
    }
  }

  /** A binary frame: buffered inside a batch (returns null), else returned as a whole message. */
  public byte[] onBinary(byte[] data) {
    if (buffer == null) return data;
    if (++chunks > count || buffer.size() + (long) data.length > size) {
      throw new ProtocolException(CloseCodes.TOO_BIG, "batch exceeds its announced size");
    }
    if (!budget.tryReserve(data.length)) {
      buffer = null;
      release();
      throw budget.exhausted();
    }
    reserved += data.length;
    buffer.write(data, 0, data.length);
    return null;
  }

  private static ProtocolException bad(String why) {
    return new ProtocolException(CloseCodes.INVALID_PAYLOAD, why);
  }

  /** The JSON of a marker: a flat object with id, type, size, count. */
  record Marker(String id, String type, long size, long count) {
    /**
     * Reads the object token by token: its fields may come in any order, each at most once, with a
     * scalar value of its type; anything else (another field, a nested value, trailing text) is
     * refused at the token where it shows, so the work is bounded by a few tokens, not by the input.
     */
    static Marker parse(String json) {
      try (JsonParser p = MARKER_JSON.createParser(json)) {
        if (p.nextToken() != JsonToken.START_OBJECT) throw bad("batch marker is not a JSON object");
        String id = null;
        String type = null;
        Long size = null;
        Long count = null;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
          if (t != JsonToken.FIELD_NAME) throw bad("batch marker is not JSON: unexpected " + t); // Jackson throws first; kept so no token passes unchecked
          String field = p.currentName();
          JsonToken value = p.nextToken();
          switch (field) {
            case "id" -> id = once(field, id, string(p, field, value));
            case "type" -> type = once(field, type, string(p, field, value));
            case "size" -> size = once(field, size, integer(p, field, value));
            case "count" -> count = once(field, count, integer(p, field, value));
            default -> throw bad("unexpected batch marker field " + LogSafe.of(field));
          }
        }
        if (p.nextToken() != null) throw bad("batch marker has more after its object");
        if (type == null) throw bad("batch marker without type");
        if (!type.equals("start") && !type.equals("end")) throw bad("unexpected batch marker type " + LogSafe.of(type));
        if (id == null) throw bad("batch marker without id");
        if (size == null) throw bad("batch marker without size");
        if (count == null) throw bad("batch marker without count");
        return new Marker(id, type, size, count);
      } catch (JsonProcessingException e) {
        throw bad("batch marker is not JSON: " + LogSafe.of(e.getOriginalMessage())); // Jackson quotes the input
      } catch (IOException e) { // reading a String: not expected, but never let it pass as something else
        throw bad("batch marker could not be read: " + LogSafe.of(e.getMessage()));
      }
    }

    private static <T> T once(String field, T seen, T value) {
      if (seen != null) throw bad("batch marker field " + field + " appears twice");
      return value;
    }

    private static String string(JsonParser p, String field, JsonToken value) throws IOException {
      if (value != JsonToken.VALUE_STRING) throw bad("batch marker field " + field + " must be a string, not " + describe(value));
      return p.getText();
    }

    private static long integer(JsonParser p, String field, JsonToken value) throws IOException {
      if (value != JsonToken.VALUE_NUMBER_INT) throw bad("batch marker field " + field + " must be an integer, not " + describe(value));
      try {
        return p.getLongValue();
      } catch (InputCoercionException e) { // an integer past a long
        throw bad("batch marker field " + field + " is out of range");
      }
    }

    private static String describe(JsonToken t) {
      if (t == null) return "the end";
      return switch (t) {
        case START_OBJECT -> "an object";
        case START_ARRAY -> "an array";
        case VALUE_STRING -> "a string";
        case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
        case VALUE_TRUE, VALUE_FALSE -> "a boolean";
        case VALUE_NULL -> "null";
        default -> t.toString();
      };
    }
  }
}
