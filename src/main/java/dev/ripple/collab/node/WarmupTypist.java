package dev.ripple.collab.node;

import dev.ripple.collab.protocol.Presence;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.yjs.Lib0Encoder;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One warm-up client of {@link Warmup}: a WebSocket to this node's own port that sends sync step 1,
 * its updates (with a presence now and then), a last sync step 1, and closes once both its sync
 * steps 2 came back.
 */
public final class WarmupTypist implements WebSocket.Listener {
  private final HttpClient http;
  private final URI uri;
  private final long clientId;
  private final String secret;
  private final int updates;
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private ByteArrayOutputStream frame = new ByteArrayOutputStream();
  private int step2Received;
  private boolean allSent;

  WarmupTypist(HttpClient http, URI uri, long clientId, String secret, int updates) {
    this.http = http;
    this.uri = uri;
    this.clientId = clientId;
    this.secret = secret;
    this.updates = updates;
  }

  CompletableFuture<Void> run() {
    http.newWebSocketBuilder().header(Warmup.HEADER, secret).connectTimeout(Duration.ofSeconds(10)).buildAsync(uri, this)
        .thenCompose(ws -> send(ws, SyncProtocol.syncStep1(new byte[] {0}), 0).thenApply(x -> ws))
        .whenComplete((ws, failure) -> {
          if (failure != null) done.completeExceptionally(failure);
        });
    return done;
  }

  /** Sends {@code message}, then update {@code next} onwards, one frame at a time (a WebSocket takes one send at a time). */
  private CompletableFuture<Void> send(WebSocket ws, byte[] message, int next) {
    return ws.sendBinary(ByteBuffer.wrap(message), true).thenCompose(w -> {
      if (next < updates) {
        byte[] m = next % 25 == 24
            ? SyncProtocol.awareness(Presence.encode(List.of(new Presence.Entry(clientId, next, "{\"cursor\":" + next + "}"))))
            : SyncProtocol.update(typed(clientId, next, "w"));
        return send(ws, m, next + 1);
      }
      if (next == updates) {
        // its reply (a sync step 2) comes after the room took every update before it
        return send(ws, SyncProtocol.syncStep1(new byte[] {0}), next + 1);
      }
      synchronized (this) {
        allSent = true;
        finishIfAnswered(ws);
      }
      return CompletableFuture.completedFuture(null);
    });
  }

  private void finishIfAnswered(WebSocket ws) {
    if (allSent && step2Received >= 2 && !done.isDone()) {
      ws.sendClose(WebSocket.NORMAL_CLOSURE, "warm-up done").whenComplete((w, e) -> done.complete(null));
    }
  }

  @Override
  public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
    byte[] bytes = new byte[data.remaining()];
    data.get(bytes);
    frame.writeBytes(bytes);
    if (last) {
      byte[] f = frame.toByteArray();
      frame = new ByteArrayOutputStream();
      if (f.length >= 2 && f[0] == SyncProtocol.MESSAGE_SYNC && f[1] == SyncProtocol.SYNC_STEP2) {
        synchronized (this) {
          step2Received++;
          finishIfAnswered(ws);
        }
      }
    }
    ws.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
    if (!done.isDone()) done.completeExceptionally(new IllegalStateException("closed by the server: " + statusCode + " " + reason));
    return null;
  }

  @Override
  public void onError(WebSocket ws, Throwable error) {
    done.completeExceptionally(error);
  }

  /** Client {@code clientId}'s {@code i}-th insert of {@code text} into the root text "t", each after the previous one. */
  public static byte[] typed(long clientId, int i, String text) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(1);
    e.writeVarUint(1);
    e.writeVarUint(clientId);
    e.writeVarUint(i);
    if (i == 0) {
      e.writeUint8(4); // string content, parent given by name
      e.writeVarUint(1);
      e.writeVarString("t");
    } else {
      e.writeUint8(0x84); // string content after an origin
      e.writeVarUint(clientId);
      e.writeVarUint(i - 1);
    }
    e.writeVarString(text);
    e.writeVarUint(0); // no deletes
    return e.toByteArray();
  }
}
