package dev.ripple.collab.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.http.impl.engine.ws.FrameEvent$;
import akka.http.impl.engine.ws.FrameHandler;
import akka.http.impl.engine.ws.FrameStart;
import akka.util.ByteString;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.protocol.BatchAssembler;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.InboundBudget;
import dev.ripple.collab.protocol.ProtocolException;
import dev.ripple.collab.room.RoomProtocol;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.Option;

/**
 * The frame wire alone, fed akka-http's frame-handler outputs as the frame layer would: whole
 * messages from parts, the message limit, the inbound budget, text cut at a marker's bound, control
 * events passed through, and what it renders for a send and a close.
 */
class WebSocketFramesTest {
  private static final int KEPT = BatchAssembler.MAX_MARKER_CHARS + 1;
  private static ActorSystem<Void> system;

  @BeforeAll
  static void startSystem() {
    system = ActorSystem.create(Behaviors.empty(), "frames-test",
        ConfigFactory.parseMap(Map.of("akka.actor.provider", "local")).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @AfterAll
  static void stopSystem() throws Exception {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static Session.Wire wire(long max, InboundBudget budget) {
    return new WebSocketFrames(system, max, budget).wire();
  }

  private static FrameHandler.BinaryMessagePart binary(byte[] data, boolean last) {
    return new FrameHandler.BinaryMessagePart(ByteString.fromArray(data), last);
  }

  private static FrameHandler.BinaryMessagePart binary(int length, int fill, boolean last) {
    byte[] data = new byte[length];
    Arrays.fill(data, (byte) fill);
    return binary(data, last);
  }

  private static FrameHandler.TextMessagePart text(String data, boolean last) {
    return new FrameHandler.TextMessagePart(data, last);
  }

  private static ProtocolException assertRefused(int code, Object received) {
    ProtocolException e = assertInstanceOf(ProtocolException.class, received);
    assertEquals(code, e.closeCode(), e.getMessage());
    return e;
  }

  @Test
  void aBinaryMessageInOnePartIsHandedUpWholeWithoutTouchingTheBudget() {
    InboundBudget budget = new InboundBudget(4); // smaller than the message: one part is not buffered here
    Session.Wire w = wire(100, budget);
    assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, (byte[]) w.receive(binary(new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, true)));
    assertEquals(0, budget.used());
  }

  @Test
  void partsAreJoinedInOrderAndHoldTheBudgetOnlyWhileTheMessageIsIncomplete() {
    InboundBudget budget = new InboundBudget(1000);
    Session.Wire w = wire(100, budget);
    assertNull(w.receive(binary(new byte[] {1, 2}, false)));
    assertEquals(2, budget.used());
    assertNull(w.receive(binary(new byte[] {3}, false)));
    assertEquals(3, budget.used());
    assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, (byte[]) w.receive(binary(new byte[] {4, 5}, true)));
    assertEquals(0, budget.used(), "a finished message gives back what its parts took");
    // the next message starts afresh
    assertArrayEquals(new byte[] {9}, (byte[]) w.receive(binary(new byte[] {9}, true)));
  }

  @Test
  void aMessageOfExactlyTheLimitPasses() {
    Session.Wire w = wire(10, InboundBudget.UNLIMITED);
    assertNull(w.receive(binary(4, 1, false)));
    byte[] whole = (byte[]) w.receive(binary(6, 2, true));
    assertEquals(10, whole.length);
    assertEquals(10, ((byte[]) w.receive(binary(10, 3, true))).length);
  }

  @Test
  void aMessagePassingTheLimitIsRefusedWith1009AtThePartThatPassesItOnceAndTheNextMessageIsRead() {
    InboundBudget budget = new InboundBudget(1000);
    Session.Wire w = wire(10, budget);
    assertNull(w.receive(binary(6, 1, false)));
    ProtocolException e = assertRefused(CloseCodes.TOO_BIG, w.receive(binary(5, 1, false)));
    assertEquals("message exceeds the limit of 10 bytes", e.getMessage());
    assertEquals(6, budget.used(), "the part past the limit is not kept");
    assertNull(w.receive(binary(50, 1, false)), "told once");
    assertNull(w.receive(binary(1, 1, true)), "its end is not a message");
    assertEquals(0, budget.used());
    assertArrayEquals(new byte[] {7}, (byte[]) w.receive(binary(new byte[] {7}, true)));
  }

  @Test
  void aSinglePartPastTheLimitIsRefusedWithItsSize() {
    Session.Wire w = wire(10, InboundBudget.UNLIMITED);
    ProtocolException e = assertRefused(CloseCodes.TOO_BIG, w.receive(binary(11, 0, true)));
    assertEquals("message of 11 bytes exceeds the limit of 10", e.getMessage());
    assertArrayEquals(new byte[] {1}, (byte[]) w.receive(binary(new byte[] {1}, true)));
  }

  @Test
  void aPartThatWouldPassTheBudgetIsRefusedWith1013AndNothingMoreIsKept() {
    InboundBudget budget = new InboundBudget(8);
    Session.Wire w = wire(100, budget);
    assertNull(w.receive(binary(5, 1, false)));
    assertEquals(5, budget.used());
    assertRefused(CloseCodes.TRY_AGAIN_LATER, w.receive(binary(5, 1, false)));
    assertEquals(0, budget.used(), "what the message held is given back");
    assertNull(w.receive(binary(1, 1, false)), "the connection is being closed: nothing more is read");
    assertNull(w.receive(binary(1, 1, true)));
    assertEquals(0, budget.used());
  }

  @Test
  void aConnectionThatEndsMidMessageGivesItsPartsBackToTheBudget() {
    InboundBudget budget = new InboundBudget(100);
    Session.Wire a = wire(100, budget);
    Session.Wire b = wire(100, budget);
    assertNull(a.receive(binary(30, 1, false)));
    assertNull(b.receive(binary(20, 1, false)));
    assertEquals(50, budget.used(), "the budget is shared by connections");
    a.closed();
    assertEquals(20, budget.used());
    // each wire assembles its own message
    assertEquals(22, ((byte[]) b.receive(binary(new byte[] {1, 1}, true))).length);
    assertEquals(0, budget.used());
  }

  @Test
  void textPartsAreJoinedIntoAString() {
    Session.Wire w = wire(100, InboundBudget.UNLIMITED);
    assertNull(w.receive(text("y-pk-", false)));
    assertEquals("y-pk-batch ✓", w.receive(text("batch ✓", true)));
    assertEquals("", w.receive(text("", true)));
  }

  @Test
  void textLongerThanAnyMarkerIsHandedUpAsItsHeadAtOnceAndTheRestIsOnlyCounted() {
    Session.Wire w = wire(10_000, InboundBudget.UNLIMITED);
    String first = "a".repeat(KEPT - 1);
    assertNull(w.receive(text(first, false)));
    Object head = w.receive(text("bcd", false));
    assertEquals(first + "b", head, "the first MAX_MARKER_CHARS + 1 characters, as soon as they are there");
    assertNull(w.receive(text("e".repeat(100), false)));
    assertNull(w.receive(text("f", true)), "the whole of a cut text is never handed up");
    assertEquals("next", w.receive(text("next", true)));
  }

  @Test
  void textCutInItsLastPartIsHandedUpAsItsHead() {
    Session.Wire w = wire(10_000, InboundBudget.UNLIMITED);
    assertEquals("x".repeat(KEPT), w.receive(text("x".repeat(KEPT + 10), true)));
    assertEquals("x".repeat(KEPT - 1), w.receive(text("x".repeat(KEPT - 1), true)), "one character shorter: whole");
  }

  @Test
  void textPastTheLimitIsRefusedWith1009() {
    Session.Wire w = wire(10, InboundBudget.UNLIMITED);
    assertNull(w.receive(text("12345", false)));
    assertRefused(CloseCodes.TOO_BIG, w.receive(text("678901", false)));
    assertNull(w.receive(text("2", true)));
    assertEquals("ok", w.receive(text("ok", true)));
  }

  @Test
  void theEndOfAMessageFinishesWhatWasReceived() {
    Object end = FrameHandler.MessageEnd$.MODULE$;
    Session.Wire w = wire(100, InboundBudget.UNLIMITED);
    assertNull(w.receive(end), "no message under way");
    assertNull(w.receive(binary(new byte[] {1, 2}, false)));
    assertArrayEquals(new byte[] {1, 2}, (byte[]) w.receive(end));
    assertNull(w.receive(text("abc", false)));
    assertEquals("abc", w.receive(end));
  }

  @Test
  void controlEventsGoStraightBackAndThePeersCloseIsMarked() {
    Session.Wire w = wire(100, InboundBudget.UNLIMITED);
    FrameHandler.PeerClosed peerClosed = new FrameHandler.PeerClosed(Option.apply((Object) 1000), "bye");
    Session.Passthrough closed = assertInstanceOf(Session.Passthrough.class, w.receive(peerClosed));
    assertSame(peerClosed, closed.element());
    assertTrue(closed.peerClosed());
    FrameHandler.DirectAnswer pong = new FrameHandler.DirectAnswer(FrameEvent$.MODULE$.closeFrame(1000, "", Option.empty()));
    Session.Passthrough answered = assertInstanceOf(Session.Passthrough.class, w.receive(pong));
    assertSame(pong, answered.element());
    assertFalse(answered.peerClosed());
    assertNull(w.receive("not a frame event"));
  }

  @Test
  void aSendIsOneFinalUnmaskedBinaryFrame() {
    Session.Wire w = wire(100, InboundBudget.UNLIMITED);
    byte[] frame = {0, 1, 2, 3};
    FrameStart start = assertInstanceOf(FrameStart.class, w.render(new RoomProtocol.Send(frame)));
    assertEquals(2, start.header().opcode().code(), "binary");
    assertTrue(start.header().fin());
    assertTrue(start.header().mask().isEmpty(), "a server does not mask");
    assertTrue(start.lastPart());
    assertArrayEquals(frame, start.data().toArray());
  }

  @Test
  void aCloseCarriesItsCodeAndAReasonOfAtMost123BytesOfUtf8() {
    Session.Wire w = wire(100, InboundBudget.UNLIMITED);
    FrameHandler.ActivelyCloseWithCode close = assertInstanceOf(FrameHandler.ActivelyCloseWithCode.class,
        w.render(new RoomProtocol.Close(CloseCodes.AUTH_REVOKED, "token revoked")));
    assertEquals(Option.apply((Object) CloseCodes.AUTH_REVOKED), close.code());
    assertEquals("token revoked", close.reason());

    String exactly = "r".repeat(123);
    assertEquals(exactly, ((FrameHandler.ActivelyCloseWithCode) w.render(new RoomProtocol.Close(1012, exactly))).reason());
    // "é" is two bytes: 61 of them (122 bytes) fit, 62 (124) do not
    String cut = ((FrameHandler.ActivelyCloseWithCode) w.render(new RoomProtocol.Close(1012, "é".repeat(100)))).reason();
    assertEquals("é".repeat(61), cut);
    assertTrue(cut.getBytes(StandardCharsets.UTF_8).length <= 123);
    assertEquals("", ((FrameHandler.ActivelyCloseWithCode) w.render(new RoomProtocol.Close(1011, null))).reason());
  }

  @Test
  void afterTheSessionTheFrameLayerFinishesTheCloseHandshakeOnTicks() {
    Session.Wire w = wire(100, InboundBudget.UNLIMITED);
    assertSame(FrameHandler.UserHandlerCompleted$.MODULE$, w.finished());
    assertEquals("akka.http.impl.engine.ws.WebSocket$Tick$", w.tick().getClass().getName());
    assertEquals(Duration.ofSeconds(3), w.tickInterval());
  }
}
