package dev.ripple.collab.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.RecipientRef;
import akka.stream.javadsl.Flow;
import akka.stream.javadsl.Keep;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.SinkQueueWithCancel;
import akka.stream.javadsl.Source;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.RoomProtocol;
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
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    SessionRegistry registry = new SessionRegistry();
    SinkQueueWithCancel<RoomProtocol.Outbound> client = Source.never()
        .via(Session.flow(settings(8), registry, room.ref(), "doc-1", "c1", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    assertEquals(1, registry.size());
    for (int i = 0; i < 100; i++) join.session().tell(new RoomProtocol.Send(new byte[] {0, 2, 0}));
    RoomProtocol.Outbound last = null;
    for (int i = 0; i < 100; i++) {
      Optional<RoomProtocol.Outbound> next = client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS);
      if (next.isEmpty()) break;
      last = next.get();
    }
    RoomProtocol.Close close = assertInstanceOf(RoomProtocol.Close.class, last);
    assertEquals(CloseCodes.TRY_AGAIN_LATER, close.code());
    assertEquals("c1", room.expectMessageClass(RoomProtocol.Leave.class).connectionId());
    assertEquals(0, registry.size());
  }

  @Test
  void malformedMessageAsksTheRoomForNothingAndClosesWith1007() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    SinkQueueWithCancel<RoomProtocol.Outbound> client = Source.<Object>single(new byte[] {0, 2, (byte) 0xff, (byte) 0xff, 0x0f})
        .concat(Source.never())
        .via(Session.flow(settings(64), new SessionRegistry(), room.ref(), "doc-1", "c2", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    room.expectMessageClass(RoomProtocol.Join.class);
    RoomProtocol.Close close = (RoomProtocol.Close) client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow();
    assertEquals(CloseCodes.INVALID_PAYLOAD, close.code());
    room.expectMessageClass(RoomProtocol.Leave.class);
  }

  @Test
  void aSyncStep1WithAMalformedStateVectorIsClosedWith1007BeforeTheRoomSeesIt() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    SinkQueueWithCancel<RoomProtocol.Outbound> client = Source.<Object>single(SyncProtocol.syncStep1(new byte[] {1})) // one entry, none there
        .concat(Source.never())
        .via(Session.flow(settings(64), new SessionRegistry(), room.ref(), "doc-1", "c5", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    RoomProtocol.Close close = (RoomProtocol.Close) client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow();
    assertEquals(CloseCodes.INVALID_PAYLOAD, close.code());
    assertTrue(close.reason().startsWith("malformed state vector in sync step 1"), close.reason());
    room.expectMessageClass(RoomProtocol.Leave.class); // no FromClient before it
  }

  /**
   * A room restarted by its backstop keeps its address: told to rejoin, the session leaves, joins
   * again through sharding, and the same address answers; what it did not acknowledge goes there again.
   */
  @Test
  void aRoomRestartedInPlaceIsRejoinedAtTheSameAddress() throws Exception {
    TestProbe<RoomProtocol.Command> sharded = testKit.createTestProbe();
    var pair = Source.<Object>queue(64, akka.stream.OverflowStrategy.fail())
        .via(Session.flow(settings(Map.of()), new SessionRegistry(), sharded.ref(), "doc-1", "stayer", false))
        .toMat(Sink.queue(8), Keep.both())
        .run(testKit.system());
    RoomProtocol.Join join = sharded.expectMessageClass(RoomProtocol.Join.class);
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    pair.first().offer(SyncProtocol.update(typed(0)));
    RoomProtocol.FromClient unacked = room.expectMessageClass(RoomProtocol.FromClient.class);
    join.session().tell(new RoomProtocol.Rejoin(new byte[] {1, 7, 1})); // PreRestart: the incarnation failed
    assertEquals("stayer", room.expectMessageClass(RoomProtocol.Leave.class).connectionId()); // before the Join, to the same address
    assertEquals(join, sharded.expectMessageClass(RoomProtocol.Join.class));
    join.session().tell(new RoomProtocol.Joined(room.ref())); // the restarted room answers from the same address
    assertInstanceOf(SyncProtocol.SyncStep1.class, room.expectMessageClass(RoomProtocol.FromClient.class).message());
    assertEquals(unacked, room.expectMessageClass(RoomProtocol.FromClient.class));
    join.session().tell(new RoomProtocol.Send(new byte[] {0, 1, 0}));
    assertInstanceOf(RoomProtocol.Send.class, pair.second().pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow()); // still connected
    room.expectNoMessage(java.time.Duration.ofMillis(200));
    pair.second().cancel();
  }

  @Test
  void sessionIsClosedWith1012WhenItsRoomStops() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    SinkQueueWithCancel<RoomProtocol.Outbound> client = Source.never()
        .via(Session.flow(settings(64), new SessionRegistry(), room.ref(), "doc-1", "c4", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    TestProbe<RoomProtocol.Command> roomIncarnation = testKit.createTestProbe();
    join.session().tell(new RoomProtocol.Joined(roomIncarnation.ref()));
    Thread.sleep(200); // the watch is set up
    roomIncarnation.stop(); // its node left, or it moved
    RoomProtocol.Close close = (RoomProtocol.Close) client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow();
    assertEquals(CloseCodes.SERVICE_RESTART, close.code());
  }

  /**
   * A room that stops in good order tells its sessions to rejoin: the session leaves it, joins
   * through sharding again, asks the next incarnation for what the document gained since the state
   * vector it was told, and sends there what the first did not acknowledge. The client stays connected.
   */
  @Test
  void aRoomThatStopsInGoodOrderIsRejoinedWithWhatItDidNotAcknowledge() throws Exception {
    TestProbe<RoomProtocol.Command> sharded = testKit.createTestProbe();
    var pair = Source.<Object>queue(64, akka.stream.OverflowStrategy.fail())
        .via(Session.flow(settings(Map.of()), new SessionRegistry(), sharded.ref(), "doc-1", "mover", false))
        .toMat(Sink.queue(8), Keep.both())
        .run(testKit.system());
    RoomProtocol.Join join = sharded.expectMessageClass(RoomProtocol.Join.class);
    TestProbe<RoomProtocol.Command> first = testKit.createTestProbe();
    join.session().tell(new RoomProtocol.Joined(first.ref()));
    pair.first().offer(SyncProtocol.update(typed(0)));
    RoomProtocol.FromClient acked = first.expectMessageClass(RoomProtocol.FromClient.class);
    join.session().tell(RoomProtocol.Ack.INSTANCE);
    pair.first().offer(SyncProtocol.update(typed(1)));
    RoomProtocol.FromClient unacked = first.expectMessageClass(RoomProtocol.FromClient.class);
    byte[] stateVector = new byte[] {1, 7, 1};
    join.session().tell(new RoomProtocol.Rejoin(stateVector)); // the first incarnation stops without acknowledging typed(1)
    assertEquals("mover", first.expectMessageClass(RoomProtocol.Leave.class).connectionId());
    assertEquals(join, sharded.expectMessageClass(RoomProtocol.Join.class)); // the same Join, through sharding
    TestProbe<RoomProtocol.Command> next = testKit.createTestProbe();
    join.session().tell(new RoomProtocol.Joined(next.ref()));
    RoomProtocol.FromClient ask = next.expectMessageClass(RoomProtocol.FromClient.class);
    assertArrayEquals(stateVector, assertInstanceOf(SyncProtocol.SyncStep1.class, ask.message()).stateVector());
    RoomProtocol.FromClient again = next.expectMessageClass(RoomProtocol.FromClient.class);
    assertEquals(unacked, again);
    assertTrue(!again.equals(acked));
    first.stop(); // the old incarnation's end is no reason to close: the session has moved
    join.session().tell(new RoomProtocol.Send(new byte[] {0, 1, 0})); // the next incarnation's answer reaches the client
    RoomProtocol.Outbound out = pair.second().pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow();
    assertInstanceOf(RoomProtocol.Send.class, out);
    next.expectNoMessage(java.time.Duration.ofMillis(200)); // no Leave: still connected
    pair.second().cancel();
  }

  /** A client that closed with an update unacknowledged, as its room stops: the update reaches the next incarnation, then the Leave. */
  @Test
  void anUpdateSentJustBeforeClosingFollowsTheRoomToItsNextIncarnation() throws Exception {
    TestProbe<RoomProtocol.Command> sharded = testKit.createTestProbe();
    var queue = Source.<Object>queue(64, akka.stream.OverflowStrategy.fail())
        .via(Session.flow(settings(Map.of()), new SessionRegistry(), sharded.ref(), "doc-1", "short", false))
        .toMat(Sink.ignore(), Keep.left())
        .run(testKit.system());
    RoomProtocol.Join join = sharded.expectMessageClass(RoomProtocol.Join.class);
    TestProbe<RoomProtocol.Command> first = testKit.createTestProbe();
    join.session().tell(new RoomProtocol.Joined(first.ref()));
    queue.offer(SyncProtocol.update(typed(0)));
    queue.complete(); // the tab closed right after typing
    RoomProtocol.FromClient sent = first.expectMessageClass(RoomProtocol.FromClient.class);
    join.session().tell(new RoomProtocol.Rejoin(new byte[] {0}));
    first.expectMessageClass(RoomProtocol.Leave.class);
    sharded.expectMessageClass(RoomProtocol.Join.class);
    TestProbe<RoomProtocol.Command> next = testKit.createTestProbe();
    join.session().tell(new RoomProtocol.Joined(next.ref()));
    assertEquals(sent, next.expectMessageClass(RoomProtocol.FromClient.class)); // no sync request: nobody to answer
    next.expectNoMessage(java.time.Duration.ofMillis(200)); // the session waits for the acknowledgement
    join.session().tell(RoomProtocol.Ack.INSTANCE);
    assertEquals("short", next.expectMessageClass(RoomProtocol.Leave.class).connectionId());
  }

  @Test
  void wellFormedMessageReachesTheRoomDecoded() {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    Source.<Object>single(SyncProtocol.syncStep1(new byte[] {0})).concat(Source.never())
        .via(Session.flow(settings(64), new SessionRegistry(), room.ref(), "doc-1", "c3", false))
        .runWith(Sink.ignore(), testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    room.expectNoMessage(java.time.Duration.ofMillis(200)); // held until the room answers
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    RoomProtocol.FromClient msg = room.expectMessageClass(RoomProtocol.FromClient.class);
    assertTrue(msg.message() instanceof SyncProtocol.SyncStep1);
  }

  @Test
  void joinIsRepeatedUntilTheRoomAnswersThenHeldMessagesGoToThatIncarnationInOrder() throws Exception {
    TestProbe<RoomProtocol.Command> sharded = testKit.createTestProbe();
    var client = Source.<Object>queue(16, akka.stream.OverflowStrategy.fail())
        .via(Session.flow(settings(64, "100ms", "5m"), new SessionRegistry(), sharded.ref(), "doc-1", "c5", false))
        .toMat(Sink.ignore(), Keep.left())
        .run(testKit.system());
    client.offer(SyncProtocol.syncStep1(new byte[] {0}));
    client.offer(SyncProtocol.update(new byte[] {0, 0}));
    // a Join lost on its way (its room's node just died) is sent again
    RoomProtocol.Join first = sharded.expectMessageClass(RoomProtocol.Join.class);
    RoomProtocol.Join again = sharded.expectMessageClass(RoomProtocol.Join.class);
    assertEquals(first, again);
    TestProbe<RoomProtocol.Command> incarnation = testKit.createTestProbe();
    first.session().tell(new RoomProtocol.Joined(incarnation.ref()));
    assertInstanceOf(SyncProtocol.SyncStep1.class, incarnation.expectMessageClass(RoomProtocol.FromClient.class).message());
    first.session().tell(RoomProtocol.Ack.INSTANCE); // one message in flight at a time (the default window)
    assertInstanceOf(SyncProtocol.SyncUpdate.class, incarnation.expectMessageClass(RoomProtocol.FromClient.class).message());
    first.session().tell(RoomProtocol.Ack.INSTANCE);
    client.offer(SyncProtocol.update(new byte[] {0, 0}));
    assertEquals("c5", incarnation.expectMessageClass(RoomProtocol.FromClient.class).connectionId());
    first.session().tell(RoomProtocol.Ack.INSTANCE);
    // answered: no more Joins, and nothing through sharding
    for (int i = 0; i < 50; i++) { // Joins sent before the answer arrived, then silence
      RoomProtocol.Command m;
      try {
        m = sharded.receiveMessage(java.time.Duration.ofMillis(400));
      } catch (AssertionError silence) {
        break;
      }
      assertInstanceOf(RoomProtocol.Join.class, m);
    }
    sharded.expectNoMessage(java.time.Duration.ofMillis(300));
    // a second incarnation that took a late Join is left at once
    TestProbe<RoomProtocol.Command> stale = testKit.createTestProbe();
    first.session().tell(new RoomProtocol.Joined(stale.ref()));
    assertEquals("c5", stale.expectMessageClass(RoomProtocol.Leave.class).connectionId());
    client.complete();
    assertEquals("c5", incarnation.expectMessageClass(RoomProtocol.Leave.class).connectionId());
  }

  @Test
  void aRoomThatNeverAnswersClosesTheSessionWith1013() throws Exception {
    TestProbe<RoomProtocol.Command> sharded = testKit.createTestProbe();
    SinkQueueWithCancel<RoomProtocol.Outbound> client = Source.never()
        .via(Session.flow(settings(64, "1m", "300ms"), new SessionRegistry(), sharded.ref(), "doc-1", "c6", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    sharded.expectMessageClass(RoomProtocol.Join.class);
    RoomProtocol.Close close = (RoomProtocol.Close) client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow();
    assertEquals(CloseCodes.TRY_AGAIN_LATER, close.code());
    assertEquals("c6", sharded.expectMessageClass(RoomProtocol.Leave.class).connectionId());
  }

  private static Settings settings(Map<String, Object> overrides) {
    return Settings.from(ConfigFactory.parseMap(overrides).withFallback(ConfigFactory.parseMap(Map.of("ripple.session.join-retry", "1m")))
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  static byte[] typed(int i) {
    return dev.ripple.collab.testkit.TypedUpdates.typed(i);
  }

  /** Collects FromClient messages, acknowledging each, until {@code updates} client updates have arrived; returns the room messages. */
  private static java.util.List<RoomProtocol.FromClient> receiveAcking(TestProbe<RoomProtocol.Command> room, ActorRefHolder session, int updates) {
    java.util.List<RoomProtocol.FromClient> got = new java.util.ArrayList<>();
    int n = 0;
    while (n < updates) {
      RoomProtocol.FromClient f = room.expectMessageClass(RoomProtocol.FromClient.class, java.time.Duration.ofSeconds(10));
      got.add(f);
      n += f.coalesced();
      session.ref.tell(RoomProtocol.Ack.INSTANCE);
    }
    return got;
  }

  private record ActorRefHolder(akka.actor.typed.ActorRef<RoomProtocol.Outbound> ref) {}

  @Test
  void aClientFloodingBeforeTheRoomAnswersIsHeldBackNotClosedAndLosesNothing() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    int n = 5000;
    SinkQueueWithCancel<RoomProtocol.Outbound> client = Source.range(0, n - 1).<Object>map(i -> SyncProtocol.update(typed(i))).concat(Source.never())
        .via(Session.flow(settings(Map.of()), new SessionRegistry(), room.ref(), "doc-1", "flood", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    Thread.sleep(300); // the client sends everything it can before the room answers
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    java.util.List<RoomProtocol.FromClient> got = receiveAcking(room, new ActorRefHolder(join.session()), n);
    assertTrue(got.size() < n / 10, "updates that waited are merged: " + got.size() + " room messages for " + n + " updates");
    dev.ripple.collab.yjs.YDoc doc = new dev.ripple.collab.yjs.YDoc();
    for (RoomProtocol.FromClient f : got) doc.apply(((SyncProtocol.SyncUpdate) f.message()).update());
    assertEquals(Map.of(7L, (long) n), doc.stateVectorMap()); // every update, once
    room.expectNoMessage(java.time.Duration.ofMillis(200)); // no close, no Leave
    client.cancel();
  }

  @Test
  void aFullWindowStopsReadingTheSocketUntilTheRoomAcknowledges() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    Settings tiny = settings(Map.of("ripple.limits.window.messages", 1, "ripple.limits.window.waiting-messages", 2,
        "ripple.limits.window.waiting-bytes", "1 KiB"));
    // a client with 1,000 messages to send: how many the session reads is what TCP would let through
    TestProbe<RoomProtocol.Command> room0 = testKit.createTestProbe();
    java.util.concurrent.atomic.AtomicInteger produced = new java.util.concurrent.atomic.AtomicInteger();
    Source.range(0, 999).<Object>map(i -> {
          produced.incrementAndGet();
          return SyncProtocol.syncStep1(new byte[] {0});
        })
        .via(Session.flow(tiny, new SessionRegistry(), room0.ref(), "doc-1", "reader", false))
        .runWith(Sink.ignore(), testKit.system());
    RoomProtocol.Join j0 = room0.expectMessageClass(RoomProtocol.Join.class);
    j0.session().tell(new RoomProtocol.Joined(room0.ref()));
    room0.expectMessageClass(RoomProtocol.FromClient.class);
    Thread.sleep(300);
    assertTrue(produced.get() <= 8, "the session stopped reading with the window and the inbox full: read " + produced.get());
    for (int i = 0; i < 5; i++) {
      j0.session().tell(RoomProtocol.Ack.INSTANCE);
      room0.expectMessageClass(RoomProtocol.FromClient.class);
    }
    Thread.sleep(100);
    assertTrue(produced.get() <= 13, "each acknowledgement lets one more in: read " + produced.get());
    var pair = Source.<Object>queue(16, akka.stream.OverflowStrategy.fail())
        .via(Session.flow(tiny, new SessionRegistry(), room.ref(), "doc-1", "slow-room", false))
        .toMat(Sink.ignore(), Keep.left())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    // update, step 1, update, step 1 ...: nothing merges across a step 1, so each waits as its own message
    java.util.concurrent.atomic.AtomicInteger read = new java.util.concurrent.atomic.AtomicInteger();
    for (int i = 0; i < 12; i++) {
      Object m = i % 2 == 0 ? SyncProtocol.update(typed(i / 2)) : SyncProtocol.syncStep1(new byte[] {0});
      pair.offer(m).toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
    Thread.sleep(300);
    room.expectMessageClass(RoomProtocol.FromClient.class); // one in flight
    room.expectNoMessage(java.time.Duration.ofMillis(100)); // the window is full
    int delivered = 1;
    join.session().tell(RoomProtocol.Ack.INSTANCE);
    while (delivered < 12) {
      room.expectMessageClass(RoomProtocol.FromClient.class, java.time.Duration.ofSeconds(5));
      delivered++;
      join.session().tell(RoomProtocol.Ack.INSTANCE);
    }
    room.expectNoMessage(java.time.Duration.ofMillis(100));
    pair.complete();
  }

  @Test
  void aSyncStep1WaitsForTheUpdatesSentBeforeIt() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    Settings one = settings(Map.of("ripple.limits.window.messages", 1));
    SinkQueueWithCancel<RoomProtocol.Outbound> client = Source.<Object>from(java.util.List.of(SyncProtocol.update(typed(0)),
            SyncProtocol.update(typed(1)), SyncProtocol.update(typed(2)), SyncProtocol.syncStep1(new byte[] {0}), SyncProtocol.update(typed(3))))
        .concat(Source.never())
        .via(Session.flow(one, new SessionRegistry(), room.ref(), "doc-1", "ordered", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    Thread.sleep(200);
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    java.util.List<Object> kinds = new java.util.ArrayList<>();
    int updates = 0;
    while (kinds.size() < 3) {
      RoomProtocol.FromClient f = room.expectMessageClass(RoomProtocol.FromClient.class);
      kinds.add(f.message().getClass().getSimpleName() + "x" + f.coalesced());
      join.session().tell(RoomProtocol.Ack.INSTANCE);
    }
    assertEquals(java.util.List.of("SyncUpdatex3", "SyncStep1x1", "SyncUpdatex1"), kinds);
    client.cancel();
  }

  @Test
  void whatTheClientSentBeforeLeavingReachesTheRoomBeforeItsLeave() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    Settings one = settings(Map.of("ripple.limits.window.messages", 1));
    var pair = Source.<Object>queue(64, akka.stream.OverflowStrategy.fail())
        .via(Session.flow(one, new SessionRegistry(), room.ref(), "doc-1", "leaver", false))
        .toMat(Sink.ignore(), Keep.left())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    for (int i = 0; i < 20; i++) pair.offer(SyncProtocol.update(typed(i)));
    pair.complete(); // the tab closed right after typing
    java.util.List<RoomProtocol.FromClient> got = receiveAcking(room, new ActorRefHolder(join.session()), 20);
    assertEquals(20, got.stream().mapToInt(RoomProtocol.FromClient::coalesced).sum());
    assertEquals("leaver", room.expectMessageClass(RoomProtocol.Leave.class).connectionId());
  }

  @Test
  void outboundQueueIsBoundedInBytesAsWellAsMessages() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    Settings small = settings(Map.of("ripple.limits.outbound-queue-bytes", "64 KiB"));
    SinkQueueWithCancel<RoomProtocol.Outbound> client = Source.never()
        .via(Session.flow(small, new SessionRegistry(), room.ref(), "doc-1", "big-frames", false))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    for (int i = 0; i < 100; i++) join.session().tell(new RoomProtocol.Send(new byte[20_000])); // far fewer than the message bound (1024)
    RoomProtocol.Outbound last = null;
    for (int i = 0; i < 200; i++) {
      Optional<RoomProtocol.Outbound> next = client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS);
      if (next.isEmpty()) break;
      last = next.get();
    }
    assertEquals(new RoomProtocol.Close(CloseCodes.TRY_AGAIN_LATER, "client too slow: outbound queue full"), last);
    assertEquals("big-frames", room.expectMessageClass(RoomProtocol.Leave.class).connectionId());
  }

  @Test
  void aClientThatNeverReadsItsCloseFrameIsDroppedWithinTheCloseTimeoutAndLeaves() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    Settings quick = settings(Map.of("ripple.session.close-timeout", "300ms"));
    var pair = Source.<Object>queue(16, akka.stream.OverflowStrategy.fail())
        .via(Flow.fromGraph(new Session(quick, new SessionRegistry(), room.ref(), "doc-1", "deaf", false, MarkerWire::new)))
        .toMat(Sink.queue(1), Keep.both())
        .run(testKit.system()); // the sink is never pulled: nothing can leave
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    join.session().tell(new RoomProtocol.Close(CloseCodes.SERVICE_RESTART, "server restarting"));
    for (int i = 0; i < 1000; i++) pair.first().offer("pong"); // pings keep coming; their pongs are not queued after the close
    assertEquals("deaf", room.expectMessageClass(RoomProtocol.Leave.class, java.time.Duration.ofSeconds(3)).connectionId());
  }

  /** A wire like the frame layer's: "peer-closed" is the client's close, with an end marker and ticks of its own. */
  private static final class MarkerWire implements Session.Wire {
    @Override
    public Object receive(Object element) {
      if ("peer-closed".equals(element) || "pong".equals(element)) return new Session.Passthrough(element, "peer-closed".equals(element));
      return element;
    }

    @Override
    public Object render(RoomProtocol.Outbound out) {
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

  private static akka.stream.javadsl.Flow<Object, Object, akka.NotUsed> markerSession(RecipientRef<RoomProtocol.Command> room, String connectionId) {
    return akka.stream.javadsl.Flow.fromGraph(
        new Session(settings(64), new SessionRegistry(), room, "doc-1", connectionId, false, MarkerWire::new));
  }

  @Test
  void clientsCloseIsPassedDownThenTheSessionsEndThenItLeaves() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    var pair = Source.<Object>queue(16, akka.stream.OverflowStrategy.fail())
        .via(markerSession(room.ref(), "c7"))
        .toMat(Sink.queue(4), Keep.both())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    join.session().tell(new RoomProtocol.Joined(room.ref()));
    pair.first().offer("pong");
    pair.first().offer("peer-closed");
    SinkQueueWithCancel<Object> client = pair.second();
    assertEquals("pong", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    assertEquals("peer-closed", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    assertEquals("finished", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    // nothing from the room goes out after the session's end marker
    join.session().tell(new RoomProtocol.Send(new byte[] {0, 2, 0}));
    assertEquals("tick", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    client.cancel(); // the frame layer completes once the close handshake is done
    assertEquals("c7", room.expectMessageClass(RoomProtocol.Leave.class).connectionId());
  }

  @Test
  void roomsCloseGoesOutThenTheEndMarkerThenTicksUntilTheFrameLayerIsDone() throws Exception {
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    SinkQueueWithCancel<Object> client = Source.never()
        .via(markerSession(room.ref(), "c8"))
        .toMat(Sink.queue(1), Keep.right())
        .run(testKit.system());
    RoomProtocol.Join join = room.expectMessageClass(RoomProtocol.Join.class);
    join.session().tell(new RoomProtocol.Close(CloseCodes.POLICY_VIOLATION, "pending cap"));
    RoomProtocol.Close close = assertInstanceOf(RoomProtocol.Close.class, client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    assertEquals(CloseCodes.POLICY_VIOLATION, close.code());
    assertEquals("finished", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    // the frame layer times out the close handshake on these ticks; the stream stays open meanwhile
    assertEquals("tick", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    assertEquals("tick", client.pull().toCompletableFuture().get(5, TimeUnit.SECONDS).orElseThrow());
    room.expectNoMessage(java.time.Duration.ofMillis(100));
    client.cancel();
    assertEquals("c8", room.expectMessageClass(RoomProtocol.Leave.class).connectionId());
  }
}
