package dev.ripple.collab.session;

import akka.NotUsed;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.event.Logging;
import akka.http.impl.engine.ws.FrameEvent$;
import akka.http.impl.engine.ws.FrameHandler;
import akka.http.impl.engine.ws.Protocol;
import akka.http.impl.engine.ws.UpgradeToWebSocketLowLevel;
import akka.http.impl.engine.ws.WebSocket$;
import akka.http.javadsl.model.HttpResponse;
import akka.http.javadsl.model.ws.WebSocketUpgrade;
import akka.http.scaladsl.settings.ServerSettings;
import akka.http.scaladsl.settings.WebSocketSettings;
import akka.stream.scaladsl.BidiFlow;
import akka.stream.scaladsl.Flow;
import akka.util.ByteString;
import akka.util.ByteStringBuilder;
import dev.ripple.collab.protocol.BatchAssembler;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.InboundBudget;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.room.RoomProtocol;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * The WebSocket message layer, in place of akka-http's own. akka-http's message API can only close
 * a connection with 1000 or 1011, and a Yjs server must say why it closes (1003/1007 malformed, 1009
 * too big, 1012 restarting, 1013 overloaded, 44xx auth). We keep akka-http's framing, masking,
 * ping/pong, close handshake and keep-alive, and replace only the top layer with a {@link Session}
 * on this class's {@link Session.Wire}: whole messages in (text as String, binary as byte[], bounded
 * in size), binary frames out, and {@link RoomProtocol.Close} as a close frame with its code and reason.
 * The only text the server reads is a y-pk-batch marker, so of a text message only its first
 * {@link BatchAssembler#MAX_MARKER_CHARS} + 1 characters are kept: a longer one is handed up as that
 * head as soon as it is known to be too long (a marker: refused with 1007 at once; other text:
 * ignored), and the rest is counted against the message limit, not buffered.
 *
 * <p>This uses akka-http's internal frame API ({@code UpgradeToWebSocketLowLevel.handleFrames}),
 * stable within the pinned 10.5.3; the server's end-to-end tests exercise it with real clients.
 */
public final class WebSocketFrames {
  private static final FiniteDuration CLOSE_TIMEOUT = FiniteDuration.apply(3, TimeUnit.SECONDS);
  private static final Duration CLOSE_TICK = Duration.ofSeconds(3);
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

  private final BidiFlow<Object, Object, Object, Object, NotUsed> lower;
  private final long maxMessageBytes;
  private final InboundBudget budget;

  /** The frame layers, built once and shared by every connection (a blueprint is immutable). */
  @SuppressWarnings({"unchecked", "rawtypes"})
  public WebSocketFrames(ActorSystem<?> system, long maxMessageBytes) {
    this(system, maxMessageBytes, InboundBudget.UNLIMITED);
  }

  /** @param budget what the parts of messages being received take from, across connections */
  @SuppressWarnings({"unchecked", "rawtypes"})
  public WebSocketFrames(ActorSystem<?> system, long maxMessageBytes, InboundBudget budget) {
    this.maxMessageBytes = maxMessageBytes;
    this.budget = budget;
    WebSocketSettings ws = ((ServerSettings) ServerSettings.apply(Adapter.toClassic(system))).websocketSettings();
    WebSocket$ stack = WebSocket$.MODULE$;
    this.lower = ((BidiFlow) stack.masking(true, ws.randomFactory()))
        .atop((BidiFlow) stack.frameHandling(true, CLOSE_TIMEOUT, Logging.getLogger(Adapter.toClassic(system), WebSocketFrames.class)))
        .atop((BidiFlow) stack.periodicKeepAlive(ws));
  }

  /** Upgrades to a WebSocket whose messages {@code session} handles (made with {@link #wire()}). */
  @SuppressWarnings({"unchecked", "rawtypes"})
  public HttpResponse upgrade(WebSocketUpgrade upgrade, Session session) {
    Flow frames = (Flow) lower.join(session);
    return ((UpgradeToWebSocketLowLevel) upgrade).handleFrames(frames, Option.empty());
  }

  /** A fresh wire for one connection: frame-handler outputs in, frame-out-handler inputs out. */
  public Session.Wire wire() {
    return new FrameWire(maxMessageBytes, budget);
  }

  private static final class FrameWire implements Session.Wire {
    private final Assembler assembler;

    FrameWire(long maxMessageBytes, InboundBudget budget) {
      assembler = new Assembler(maxMessageBytes, budget);
    }

    /** The connection ended: what its message being received took from the budget goes back. */
    @Override
    public void closed() {
      assembler.release();
    }

    @Override
    public Object receive(Object element) {
      // control events (pongs to answer, the peer's close) go straight back to the frame layer
      if (element instanceof FrameHandler.BypassEvent) return new Session.Passthrough(element, element instanceof FrameHandler.PeerClosed);
      return assembler.accept(element);
    }

    @Override
    public Object render(RoomProtocol.Outbound out) {
      if (out instanceof RoomProtocol.Send send) {
        return FrameEvent$.MODULE$.fullFrame((Protocol.Opcode) BINARY, Option.empty(),
            ByteString.fromArrayUnsafe(send.frame()), true, false, false, false);
      }
      RoomProtocol.Close close = (RoomProtocol.Close) out;
      String reason = close.reason() == null ? "" : close.reason();
      // a close frame's reason is at most 123 bytes of UTF-8
      while (reason.getBytes(StandardCharsets.UTF_8).length > 123) reason = reason.substring(0, reason.length() - 1);
      return new FrameHandler.ActivelyCloseWithCode(Option.apply((Object) close.code()), reason);
    }

    /** Our side is done: the frame layer finishes the close handshake. */
    @Override
    public Object finished() {
      return USER_HANDLER_COMPLETED;
    }

    /** Drives the close handshake's timeout while we wait for the peer's close frame. */
    @Override
    public Object tick() {
      return TICK;
    }

    @Override
    public Duration tickInterval() {
      return CLOSE_TICK;
    }
  }

  /** Joins message parts into whole messages, refusing to buffer past the limit; text only up to a marker's bound. */
  private static final class Assembler {
    /** Enough of a text message to tell a marker from other text, and a marker from one that is too long. */
    private static final int TEXT_KEPT = BatchAssembler.MAX_MARKER_CHARS + 1;
    private final long max;
    private ByteStringBuilder binary;
    private StringBuilder text;
    /** The head of the current text message has been handed up: the rest of it is only counted. */
    private boolean textCut;
    private long size;
    private boolean tooBig;
    private final InboundBudget budget;
    /** Bytes of the current binary message taken from the budget. */
    private long reserved;
    private boolean busy;

    Assembler(long max, InboundBudget budget) {
      this.max = max;
      this.budget = budget;
    }

    void release() {
      budget.release(reserved);
      reserved = 0;
    }

    /** A whole message, a ProtocolException, or null. */
    Object accept(Object part) {
      if (part instanceof FrameHandler.BinaryMessagePart p) {
        if (busy) return null; // the connection is being closed: nothing more is kept
        if (binary == null) binary = new ByteStringBuilder();
        if (grow(p.data().size())) {
          // a message in one part is handed up at once; only the parts of a longer one wait here
          if (!(p.last() && binary.isEmpty())) {
            if (!budget.tryReserve(p.data().size())) {
              busy = true;
              binary = null;
              release();
              return budget.exhausted();
            }
            reserved += p.data().size();
          }
          binary.append(p.data());
        }
        return p.last() ? finish(binary.result().toArray()) : overLimitOnce();
      }
      if (part instanceof FrameHandler.TextMessagePart p) {
        if (text == null) text = new StringBuilder();
        String head = null;
        if (grow(p.data().length()) && !textCut) {
          text.append(p.data(), 0, Math.min(p.data().length(), TEXT_KEPT - text.length()));
          if (text.length() == TEXT_KEPT) { // longer than any marker: hand it up now, count the rest
            textCut = true;
            head = text.toString();
          }
        }
        if (p.last()) {
          Object whole = finish(textCut ? null : text.toString());
          return head != null ? head : whole;
        }
        return head != null ? head : overLimitOnce();
      }
      if (part == MESSAGE_END) {
        return binary != null ? finish(binary.result().toArray()) : text != null ? finish(textCut ? null : text.toString()) : null;
      }
      return null;
    }

    private boolean reported;

    private boolean grow(long n) {
      size += n;
      if (size > max) tooBig = true;
      return !tooBig;
    }

    /** Tells the application as soon as a message passes the limit (it closes the connection), once. */
    private Object overLimitOnce() {
      if (!tooBig || reported) return null;
      reported = true;
      return new ProtocolException(CloseCodes.TOO_BIG, "message exceeds the limit of " + max + " bytes");
    }

    private Object finish(Object whole) {
      release();
      boolean wasTooBig = tooBig;
      boolean wasReported = reported;
      long total = size;
      binary = null;
      text = null;
      textCut = false;
      size = 0;
      tooBig = false;
      reported = false;
      if (wasTooBig) {
        return wasReported ? null
            : new ProtocolException(CloseCodes.TOO_BIG, "message of " + total + " bytes exceeds the limit of " + max);
      }
      return whole;
    }
  }
}
