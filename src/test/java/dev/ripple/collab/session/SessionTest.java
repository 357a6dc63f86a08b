package dev.ripple.collab.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.RecipientRef;
import akka.stream.javadsl.Keep;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.SinkQueueWithCancel;
import akka.stream.javadsl.Source;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.Settings;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.Room;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** One connection's flow, with a probe as its room: decoding, bad input, a client that does not read. */
class SessionTest {
  static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.parseMap(Map.of("akka.actor.provider", "local")));

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  /** A Join repeated only after a minute: tests that do not answer it see exactly one. */
  private static Settings settings(int queue) {
    return settings(queue, "1m", "5m");
  }

  private static Settings settings(int queue, String joinRetry, String joinTimeout) {
    return Settings.from(ConfigFactory.parseMap(Map.of("ripple.limits.outbound-queue-messages", queue,
            "ripple.session.join-retry", joinRetry, "ripple.session.join-timeout", joinTimeout))
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @Test
  void clientThatStopsReadingIsClosedWith1013AndLeavesTheRoom() throws Exception {
    TestProbe<Room.Command> room = testKit.createTestProbe();
    SessionRegistry registry = new SessionRegistry();
    SinkQueueWithCancel<Room.Outbound> client = Source.never()
        .via(Session.flow(settings(8), registry, room.ref(), "doc-1", "c1", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    Room.Join join = room.expectMessageClass(Room.Join.class);
    assertEquals(1, registry.size());
    for (int i = 0; i < 100; i++) join.session().tell(new Room.Send(new byte[] {0, 2, 0}));
    Room.Outbound last = null;
    for (int i = 0; i < 100; i++) {
      Optional<Room.Outbound> next = client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS);
      if (next.isEmpty()) break;
      last = next.get();
    }
    Room.Close close = assertInstanceOf(Room.Close.class, last);
    assertEquals(CloseCodes.TRY_AGAIN_LATER, close.code());
    assertEquals("c1", room.expectMessageClass(Room.Leave.class).connectionId());
    assertEquals(0, registry.size());
  }

  @Test
  void malformedMessageAsksTheRoomForNothingAndClosesWith1007() throws Exception {
    TestProbe<Room.Command> room = testKit.createTestProbe();
    SinkQueueWithCancel<Room.Outbound> client = Source.<Object>single(new byte[] {0, 2, (byte) 0xff, (byte) 0xff, 0x0f})
        .concat(Source.never())
        .via(Session.flow(settings(64), new SessionRegistry(), room.ref(), "doc-1", "c2", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    room.expectMessageClass(Room.Join.class);
    Room.Close close = (Room.Close) client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow();
    assertEquals(CloseCodes.INVALID_PAYLOAD, close.code());
    room.expectMessageClass(Room.Leave.class);
  }

  @Test
  void sessionIsClosedWith1012WhenItsRoomStops() throws Exception {
    TestProbe<Room.Command> room = testKit.createTestProbe();
    SinkQueueWithCancel<Room.Outbound> client = Source.never()
        .via(Session.flow(settings(64), new SessionRegistry(), room.ref(), "doc-1", "c4", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    Room.Join join = room.expectMessageClass(Room.Join.class);
    TestProbe<Room.Command> roomIncarnation = testKit.createTestProbe();
    join.session().tell(new Room.Joined(roomIncarnation.ref()));
    Thread.sleep(200); // the watch is set up
    roomIncarnation.stop(); // its node left, or it moved
    Room.Close close = (Room.Close) client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow();
    assertEquals(CloseCodes.SERVICE_RESTART, close.code());
  }

  @Test
  void wellFormedMessageReachesTheRoomDecoded() {
    TestProbe<Room.Command> room = testKit.createTestProbe();
    Source.<Object>single(SyncProtocol.syncStep1(new byte[] {0})).concat(Source.never())
        .via(Session.flow(settings(64), new SessionRegistry(), room.ref(), "doc-1", "c3", false))
        .runWith(Sink.ignore(), testKit.system());
    Room.Join join = room.expectMessageClass(Room.Join.class);
    room.expectNoMessage(java.time.Duration.ofMillis(200)); // held until the room answers
    join.session().tell(new Room.Joined(room.ref()));
    Room.FromClient msg = room.expectMessageClass(Room.FromClient.class);
    assertTrue(msg.message() instanceof SyncProtocol.SyncStep1);
  }

  @Test
  void joinIsRepeatedUntilTheRoomAnswersThenHeldMessagesGoToThatIncarnationInOrder() throws Exception {
    TestProbe<Room.Command> sharded = testKit.createTestProbe();
    var client = Source.<Object>queue(16, akka.stream.OverflowStrategy.fail())
        .via(Session.flow(settings(64, "100ms", "5m"), new SessionRegistry(), sharded.ref(), "doc-1", "c5", false))
        .toMat(Sink.ignore(), Keep.left())
        .run(testKit.system());
    client.offer(SyncProtocol.syncStep1(new byte[] {0}));
    client.offer(SyncProtocol.update(new byte[] {0, 0}));
    // a Join lost on its way (its room's node just died) is sent again
    Room.Join first = sharded.expectMessageClass(Room.Join.class);
    Room.Join again = sharded.expectMessageClass(Room.Join.class);
    assertEquals(first, again);
    TestProbe<Room.Command> incarnation = testKit.createTestProbe();
    first.session().tell(new Room.Joined(incarnation.ref()));
    assertInstanceOf(SyncProtocol.SyncStep1.class, incarnation.expectMessageClass(Room.FromClient.class).message());
    assertInstanceOf(SyncProtocol.SyncUpdate.class, incarnation.expectMessageClass(Room.FromClient.class).message());
    client.offer(SyncProtocol.update(new byte[] {0, 0}));
    assertEquals("c5", incarnation.expectMessageClass(Room.FromClient.class).connectionId());
    // answered: no more Joins, and nothing through sharding
    for (int i = 0; i < 50; i++) { // Joins sent before the answer arrived, then silence
      Room.Command m;
      try {
        m = sharded.receiveMessage(java.time.Duration.ofMillis(400));
      } catch (AssertionError silence) {
        break;
      }
      assertInstanceOf(Room.Join.class, m);
    }
    sharded.expectNoMessage(java.time.Duration.ofMillis(300));
    // a second incarnation that took a late Join is left at once
    TestProbe<Room.Command> stale = testKit.createTestProbe();
    first.session().tell(new Room.Joined(stale.ref()));
    assertEquals("c5", stale.expectMessageClass(Room.Leave.class).connectionId());
    client.complete();
    assertEquals("c5", incarnation.expectMessageClass(Room.Leave.class).connectionId());
  }

  @Test
  void aRoomThatNeverAnswersClosesTheSessionWith1013() throws Exception {
    TestProbe<Room.Command> sharded = testKit.createTestProbe();
    SinkQueueWithCancel<Room.Outbound> client = Source.never()
        .via(Session.flow(settings(64, "1m", "300ms"), new SessionRegistry(), sharded.ref(), "doc-1", "c6", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    sharded.expectMessageClass(Room.Join.class);
    Room.Close close = (Room.Close) client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow();
    assertEquals(CloseCodes.TRY_AGAIN_LATER, close.code());
    assertEquals("c6", sharded.expectMessageClass(Room.Leave.class).connectionId());
  }

  /** A wire like the frame layer's: "peer-closed" is the client's close, with an end marker and ticks of its own. */
  private static final class MarkerWire implements Session.Wire {
    @Override
    public Object receive(Object element) {
      if ("peer-closed".equals(element) || "pong".equals(element)) return new Session.Passthrough(element, "peer-closed".equals(element));
      return element;
    }

    @Override
    public Object render(Room.Outbound out) {
      return out;
    }

    @Override
    public Object finished() {
      return "finished";
    }

    @Override
    public Object tick() {
      return "tick";
    }

    @Override
    public java.time.Duration tickInterval() {
      return java.time.Duration.ofMillis(100);
    }
  }

  private static akka.stream.javadsl.Flow<Object, Object, akka.NotUsed> markerSession(RecipientRef<Room.Command> room, String connectionId) {
    return akka.stream.javadsl.Flow.fromGraph(
        new Session(settings(64), new SessionRegistry(), room, "doc-1", connectionId, false, MarkerWire::new));
  }

  @Test
  void clientsCloseIsPassedDownThenTheSessionsEndThenItLeaves() throws Exception {
    TestProbe<Room.Command> room = testKit.createTestProbe();
    var pair = Source.<Object>queue(16, akka.stream.OverflowStrategy.fail())
        .via(markerSession(room.ref(), "c7"))
        .toMat(Sink.queue(4), Keep.both())
        .run(testKit.system());
    Room.Join join = room.expectMessageClass(Room.Join.class);
    join.session().tell(new Room.Joined(room.ref()));
    pair.first().offer("pong");
    pair.first().offer("peer-closed");
    SinkQueueWithCancel<Object> client = pair.second();
    assertEquals("pong", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    assertEquals("peer-closed", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    assertEquals("finished", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    // nothing from the room goes out after the session's end marker
    join.session().tell(new Room.Send(new byte[] {0, 2, 0}));
    assertEquals("tick", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    client.cancel(); // the frame layer completes once the close handshake is done
    assertEquals("c7", room.expectMessageClass(Room.Leave.class).connectionId());
  }

  @Test
  void roomsCloseGoesOutThenTheEndMarkerThenTicksUntilTheFrameLayerIsDone() throws Exception {
    TestProbe<Room.Command> room = testKit.createTestProbe();
    SinkQueueWithCancel<Object> client = Source.never()
        .via(markerSession(room.ref(), "c8"))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    Room.Join join = room.expectMessageClass(Room.Join.class);
    join.session().tell(new Room.Close(CloseCodes.POLICY_VIOLATION, "pending cap"));
    Room.Close close = assertInstanceOf(Room.Close.class, client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    assertEquals(CloseCodes.POLICY_VIOLATION, close.code());
    assertEquals("finished", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    // the frame layer times out the close handshake on these ticks; the stream stays open meanwhile
    assertEquals("tick", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    assertEquals("tick", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    room.expectNoMessage(java.time.Duration.ofMillis(100));
    client.cancel();
    assertEquals("c8", room.expectMessageClass(Room.Leave.class).connectionId());
  }
}
