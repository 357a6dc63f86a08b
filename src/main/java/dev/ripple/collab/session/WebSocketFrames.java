package dev.ripple.collab.session;

import akka.NotUsed;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.event.Logging;
import akka.http.impl.engine.ws.FrameEvent$;
import akka.http.impl.engine.ws.FrameHandler;
import akka.http.impl.engine.ws.UpgradeToWebSocketLowLevel;
import akka.http.impl.engine.ws.WebSocket$;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.ws.WebSocketUpgrade;
import akka.http.scaladsl.settings.ServerSettings;
import akka.http.scaladsl.settings.WebSocketSettings;
import akka.stream.FlowShape;
import akka.stream.UniformFanInShape;
import akka.stream.UniformFanOutShape;
import akka.stream.javadsl.Flow;
import akka.stream.javadsl.GraphDSL;
import akka.stream.javadsl.Merge;
import akka.stream.javadsl.Partition;
import akka.stream.javadsl.Source;
import akka.util.ByteString;
import akka.util.ByteStringBuilder;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.room.Room;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * The WebSocket message layer, in place of akka-http's own. akka-http's message API can only close
 * a connection with 1000 or 1011, and a Yjs server must say why it closes (1003/1007 malformed, 1009
 * too big, 1012 restarting, 1013 overloaded, 44xx auth). We keep akka-http's framing, masking,
 * ping/pong, close handshake and keep-alive, and replace only the top layer: whole messages in
 * (text as String, binary as byte[], bounded in size), {@link Room.Outbound} out, where
 * {@link Room.Close} becomes a close frame with its code and reason.
 *
 * <p>This uses akka-http's internal frame API ({@code UpgradeToWebSocketLowLevel.handleFrames}),
 * stable within the pinned 10.5.3; the server's end-to-end tests exercise it with real clients.
 */
public final class WebSocketFrames {
  private static final FiniteDuration CLOSE_TIMEOUT = FiniteDuration.apply(3, TimeUnit.SECONDS);
  // Scala singleton objects nested in akka-http's (Scala) frame handler, looked up once
  private static final Object MESSAGE_END = scalaObject("akka.http.impl.engine.ws.FrameHandler$MessageEnd$");
  private static final Object USER_HANDLER_COMPLETED = scalaObject("akka.http.impl.engine.ws.FrameHandler$UserHandlerCompleted$");
  private static final Object TICK = scalaObject("akka.http.impl.engine.ws.WebSocket$Tick$");
  private static final Object BINARY = scalaObject("akka.http.impl.engine.ws.Protocol$Opcode$Binary$");

  private static Object scalaObject(String className) {
    try {
      return Class.forName(className).getField("MODULE$").get(null);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("akka-http internals changed: " + className, e);
    }
  }

  private WebSocketFrames() {}

  /**
   * Upgrades to a WebSocket handled by {@code app}: it receives whole messages (String, byte[], or
   * a {@link ProtocolException} for a message over {@code maxMessageBytes}) and emits what to send.
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  public static HttpResponse upgrade(ActorSystem<?> system, WebSocketUpgrade upgrade, Flow<Object, Room.Outbound, NotUsed> app,
      long maxMessageBytes) {
    WebSocketSettings ws = ((ServerSettings) ServerSettings.apply(Adapter.toClassic(system))).websocketSettings();
    WebSocket$ stack = WebSocket$.MODULE$;
    akka.stream.scaladsl.BidiFlow lower = ((akka.stream.scaladsl.BidiFlow) stack.masking(true, ws.randomFactory()))
        .atop((akka.stream.scaladsl.BidiFlow) stack.frameHandling(true, CLOSE_TIMEOUT, Logging.getLogger(Adapter.toClassic(system), WebSocketFrames.class)))
        .atop((akka.stream.scaladsl.BidiFlow) stack.periodicKeepAlive(ws));
    akka.stream.scaladsl.Flow frames = (akka.stream.scaladsl.Flow) lower.join(messageLayer(app, maxMessageBytes).asScala());
    return ((UpgradeToWebSocketLowLevel) upgrade).handleFrames(frames, Option.empty());
  }

  /** Frame-handler outputs in, frame-out-handler inputs out; control events pass straight through. */
  private static Flow<Object, Object, NotUsed> messageLayer(Flow<Object, Room.Outbound, NotUsed> app, long maxMessageBytes) {
    Flow<Object, Object, NotUsed> toApp = Flow.create()
        .statefulMapConcat(() -> new Assembler(maxMessageBytes)::accept)
        .via(app)
        .map(WebSocketFrames::render)
        .concat(Source.single(USER_HANDLER_COMPLETED)); // our side is done: finish the close handshake
    return Flow.fromGraph(GraphDSL.create(b -> {
      // the peer's close ends our input too: the application then completes, and the close
      // handshake is answered (UserHandlerCompleted above)
      FlowShape<Object, Object> untilPeerClosed = b.add(Flow.create().takeWhile(o -> !(o instanceof FrameHandler.PeerClosed), true));
      UniformFanOutShape<Object, Object> split =
          b.add(Partition.create(Object.class, 2, o -> o instanceof FrameHandler.BypassEvent ? 0 : 1));
      UniformFanInShape<Object, Object> merge = b.add(Merge.create(3));
      FlowShape<Object, Object> appShape = b.add(toApp);
      b.from(split.out(0)).toInlet(merge.in(0));
      b.from(split.out(1)).via(appShape).toInlet(merge.in(1));
      // drives the close handshake's timeout while we wait for the peer's close frame
      b.from(b.add(Source.tick(Duration.ofSeconds(3), Duration.ofSeconds(3), TICK))).toInlet(merge.in(2));
      b.from(untilPeerClosed).toInlet(split.in());
      return FlowShape.of(untilPeerClosed.in(), merge.out());
    }));
  }

  private static Object render(Room.Outbound out) {
    if (out instanceof Room.Send send) {
      return FrameEvent$.MODULE$.fullFrame((akka.http.impl.engine.ws.Protocol.Opcode) BINARY, Option.empty(),
          ByteString.fromArrayUnsafe(send.frame()), true, false, false, false);
    }
    Room.Close close = (Room.Close) out;
    String reason = close.reason() == null ? "" : close.reason();
    // a close frame's reason is at most 123 bytes of UTF-8
    while (reason.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 123) reason = reason.substring(0, reason.length() - 1);
    return new FrameHandler.ActivelyCloseWithCode(Option.apply((Object) close.code()), reason);
  }

  /** Joins message parts into whole messages, refusing to buffer past the limit. */
  private static final class Assembler {
    private final long max;
    private ByteStringBuilder binary;
    private StringBuilder text;
    private long size;
    private boolean tooBig;

    Assembler(long max) {
      this.max = max;
    }

    List<Object> accept(Object part) {
      if (part instanceof FrameHandler.BinaryMessagePart p) {
        if (binary == null) binary = new ByteStringBuilder();
        if (grow(p.data().size())) binary.append(p.data());
        return p.last() ? finish(binary.result().toArray()) : overLimitOnce();
      }
      if (part instanceof FrameHandler.TextMessagePart p) {
        if (text == null) text = new StringBuilder();
        if (grow(p.data().length())) text.append(p.data());
        return p.last() ? finish(text.toString()) : overLimitOnce();
      }
      if (part == MESSAGE_END) {
        return binary != null ? finish(binary.result().toArray()) : text != null ? finish(text.toString()) : List.of();
      }
      return List.of();
    }

    private boolean reported;

    private boolean grow(long n) {
      size += n;
      if (size > max) tooBig = true;
      return !tooBig;
    }

    /** Tells the application as soon as a message passes the limit (it closes the connection), once. */
    private List<Object> overLimitOnce() {
      if (!tooBig || reported) return List.of();
      reported = true;
      return List.of(new ProtocolException(CloseCodes.TOO_BIG, "message exceeds the limit of " + max + " bytes"));
    }

    private List<Object> finish(Object whole) {
      boolean wasTooBig = tooBig;
      boolean wasReported = reported;
      long total = size;
      binary = null;
      text = null;
      size = 0;
      tooBig = false;
      reported = false;
      if (wasTooBig) {
        return wasReported ? List.of()
            : List.of(new ProtocolException(CloseCodes.TOO_BIG, "message of " + total + " bytes exceeds the limit of " + max));
      }
      return List.of(whole);
    }
  }
}
