package dev.ripple.collab.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import java.io.ByteArrayOutputStream;

/**
 * Reassembles YPartyKitProvider's chunked messages: a text frame
 * {@code y-pk-batch#{"id","type":"start","size","count"}}, that many binary chunks, and an end marker
 * with the same fields. Limits the total size and chunk count; anything inconsistent is a
 * {@link ProtocolException} that closes the connection; client text in its message goes through
 * {@link LogSafe}.
 */
public final class BatchAssembler {
  public static final String SENTINEL = "y-pk-batch";
  /** Parses every marker of every connection: an ObjectReader is immutable and thread-safe, so one is shared. */
  private static final ObjectReader MARKER_JSON = new ObjectMapper().reader();

  private final long maxBytes;
  private final int maxChunks;
  private String id;
  private long size;
  private long count;
  private ByteArrayOutputStream buffer;
  private int chunks;

  public BatchAssembler(long maxBytes, int maxChunks) {
    this.maxBytes = maxBytes;
    this.maxChunks = maxChunks;
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
      if (!java.util.Objects.equals(id, m.id()) || m.size() != size || m.count() != count) {
        throw bad("batch end does not match its start");
      }
      if (chunks != count || buffer.size() != size) {
        throw bad("batch received " + chunks + " chunks / " + buffer.size() + " bytes, announced " + count + " / " + size);
      }
      return buffer.toByteArray();
    } finally {
      buffer = null;
      id = null;
    }
  }

  /** A binary frame: buffered inside a batch (returns null), else returned as a whole message. */
  public byte[] onBinary(byte[] data) {
    if (buffer == null) return data;
    if (++chunks > count || buffer.size() + (long) data.length > size) {
      throw new ProtocolException(CloseCodes.TOO_BIG, "batch exceeds its announced size");
    }
    buffer.write(data, 0, data.length);
    return null;
  }

  private static ProtocolException bad(String why) {
    return new ProtocolException(CloseCodes.INVALID_PAYLOAD, why);
  }

  /** The JSON of a marker: a flat object with id, type, size, count. */
  record Marker(String id, String type, long size, long count) {
    static Marker parse(String json) {
      try {
        JsonNode n = MARKER_JSON.readTree(json);
        if (n == null || !n.isObject()) throw bad("batch marker is not a JSON object");
        String type = n.path("type").asText("");
        if (!type.equals("start") && !type.equals("end")) throw bad("unexpected batch marker type " + LogSafe.of(type));
        return new Marker(n.path("id").asText(null), type, n.path("size").asLong(-1), n.path("count").asLong(-1));
      } catch (JsonProcessingException e) {
        throw bad("batch marker is not JSON: " + LogSafe.of(e.getOriginalMessage())); // Jackson quotes the input
      }
    }
  }
}
