package dev.ripple.collab.room;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.yjs.StateVectors;
import dev.ripple.collab.yjs.YDoc;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The Room entity alone, on the in-memory journal: sync, ordering, output gate, awareness, compaction, recovery. */
class RoomTest {
  // made with yjs 13.6.33: client 1 types "hello" then " world"; client 2 prepends ">> " after seeing "hello"
  static final byte[] HELLO = Base64.getDecoder().decode("AQEBAAQBBHRleHQFaGVsbG8A");
  static final byte[] WORLD = Base64.getDecoder().decode("AQEBBYQBBAYgd29ybGQA");
  static final byte[] PREFIX = Base64.getDecoder().decode("AQECAEQBAAM+PiAA");

  static Config config(String mode) {
    return EventSourcedBehaviorTestKit.config()
        .withFallback(ConfigFactory.parseMap(Map.of("akka.actor.provider", "local", "ripple.persistence.mode", mode,
            "ripple.persistence.history.max-updates", 3)))
        .withFallback(ConfigFactory.parseResources("application.conf"))
        .withFallback(ConfigFactory.defaultReference())
        .resolve();
  }

  static final ActorTestKit testKit = ActorTestKit.create(config("snapshot"));
  static final Duration QUIET = Duration.ofMillis(200);

  private EventSourcedBehaviorTestKit<RoomProtocol.Command, RoomEvent, RoomState> room;
  private TestProbe<RoomProtocol.Outbound> alice;
  private TestProbe<RoomProtocol.Outbound> bob;

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void setUp() {
    room = roomWith(Settings.from(testKit.system().settings().config()));
    alice = testKit.createTestProbe();
    bob = testKit.createTestProbe();
  }

  /** The updates a command journaled (a new document's first write also carries its empty backup load). */
  private static long updatesIn(EventSourcedBehaviorTestKit.CommandResult<RoomProtocol.Command, RoomEvent, RoomState> result) {
    return result.events().stream().filter(e -> e instanceof RoomEvent.UpdateApplied).count();
  }

  @Test
  void openingANewDocumentJournalsNothingUntilItsFirstUpdate() {
    join(alice, "a", false);
    assertFalse(room.getState().loaded(), "no journal write for an empty backup");
    room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.SyncStep1(new byte[] {0})));
    assertFalse(room.getState().loaded());
    room.runCommand(update("a", HELLO));
    assertTrue(room.getState().loaded(), "journaled with the first update");
    assertTrue(room.getState().dirty(), "and that update is owed a save");
  }

  private EventSourcedBehaviorTestKit<RoomProtocol.Command, RoomEvent, RoomState> roomWith(Settings settings) {
    return EventSourcedBehaviorTestKit.create(testKit.system(), Room.create("doc-1", settings, new FakeBackup(), null),
        EventSourcedBehaviorTestKit.<RoomProtocol.Command, RoomEvent, RoomState>enabledSerializationSettings()
            .withVerifyCommands(false).withVerifyState(false));
  }

  private void join(TestProbe<RoomProtocol.Outbound> p, String id, boolean readOnly) {
    room.runCommand(new RoomProtocol.Join(id, p.ref(), readOnly));
    p.expectMessageClass(RoomProtocol.Joined.class); // the room's address, for the session to watch
    byte[] step1 = ((RoomProtocol.Send) p.receiveMessage()).frame();
    assertInstanceOf(SyncProtocol.SyncStep1.class, SyncProtocol.decode(step1));
  }

  private static RoomProtocol.FromClient update(String id, byte[] u) {
    return new RoomProtocol.FromClient(id, new SyncProtocol.SyncUpdate(u, false));
  }

  @Test
  void joinGetsSyncStep1WithTheRoomsStateVector() {
    room.runCommand(update("x", HELLO)); // no such connection: ignored
    join(alice, "a", false);
    room.runCommand(update("a", HELLO));
    room.runCommand(new RoomProtocol.Join("b", bob.ref(), false));
    bob.expectMessageClass(RoomProtocol.Joined.class);
    SyncProtocol.SyncStep1 step1 = (SyncProtocol.SyncStep1) SyncProtocol.decode(((RoomProtocol.Send) bob.receiveMessage()).frame());
    assertEquals(Map.of(1L, 5L), StateVectors.decode(step1.stateVector()));
  }

  @Test
  void aRepeatedJoinOfTheSameSessionIsAnsweredAgainButSyncedOnce() {
    join(alice, "a", false);
    // the session repeated its Join before the answer reached it
    room.runCommand(new RoomProtocol.Join("a", alice.ref(), false));
    alice.expectMessageClass(RoomProtocol.Joined.class);
    alice.expectNoMessage(QUIET); // no second sync step 1
    room.runCommand(update("a", HELLO));
    assertEquals(RoomProtocol.Ack.INSTANCE, alice.receiveMessage());
    join(bob, "b", false);
    room.runCommand(new RoomProtocol.Leave("a"));
    room.runCommand(update("b", WORLD));
    alice.expectNoMessage(QUIET); // one Leave ends the connection, however many Joins it sent
  }

  @Test
  void updateIsJournaledThenBroadcastToTheOthersOnlyAndAcknowledgedToItsSender() {
    join(alice, "a", false);
    join(bob, "b", false);
    var result = room.runCommand(update("a", HELLO));
    assertEquals(2, result.events().size()); // a new document's empty backup load goes with its first update, in one write
    assertEquals(0, assertInstanceOf(RoomEvent.BackupLoaded.class, result.events().get(0)).state().length);
    assertArrayEquals(HELLO, ((RoomEvent.UpdateApplied) result.events().get(1)).update());
    assertArrayEquals(SyncProtocol.update(HELLO), ((RoomProtocol.Send) bob.receiveMessage()).frame());
    assertEquals(RoomProtocol.Ack.INSTANCE, alice.receiveMessage()); // the session's window reopens
    alice.expectNoMessage(QUIET);
  }

  @Test
  void everyClientMessageIsAcknowledgedOnceHandled() {
    join(alice, "a", false);
    room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.SyncUpdate(new byte[] {0, 0}, true))); // nothing new
    assertEquals(RoomProtocol.Ack.INSTANCE, alice.receiveMessage());
    room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.SyncStep1(new byte[] {0})));
    assertInstanceOf(RoomProtocol.Send.class, alice.receiveMessage()); // the answer first, then the acknowledgement
    assertEquals(RoomProtocol.Ack.INSTANCE, alice.receiveMessage());
    room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.QueryAwareness()));
    assertEquals(RoomProtocol.Ack.INSTANCE, alice.receiveMessage());
    alice.expectNoMessage(QUIET);
  }

  @Test
  void coalescedUpdatesAreOneJournalEventCountedAsTheirClientMessages() {
    join(alice, "a", false);
    byte[] merged = dev.ripple.collab.yjs.Updates.mergeUpdates(java.util.List.of(HELLO, WORLD));
    var result = room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.SyncUpdate(merged, false), 2));
    assertEquals(1, updatesIn(result));
    assertEquals(1, result.state().updates()); // the room counts journal events (what a save covers)
    assertEquals(RoomProtocol.Ack.INSTANCE, alice.receiveMessage());
  }

  @Test
  void aJoinPastTheConnectionLimitIsClosedWith1013() {
    Settings two = Settings.from(ConfigFactory.parseMap(Map.of("ripple.limits.max-connections-per-room", 2))
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve());
    room = roomWith(two);
    TestProbe<RoomProtocol.Outbound> carol = testKit.createTestProbe();
    room.runCommand(new RoomProtocol.Join("a", alice.ref(), false));
    room.runCommand(new RoomProtocol.Join("b", bob.ref(), false));
    room.runCommand(new RoomProtocol.Join("c", carol.ref(), false));
    assertEquals(new RoomProtocol.Close(1013, "room is full"), carol.receiveMessage());
  }

  @Test
  void anUpdateThatCarriesNothingIsNeitherJournaledNorBroadcast() {
    join(alice, "a", false);
    join(bob, "b", false);
    assertTrue(room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.SyncUpdate(new byte[] {0, 0}, true))).hasNoEvents());
    bob.expectNoMessage(QUIET);
  }

  @Test
  void syncStep1IsAnsweredWithWhatTheClientLacks() {
    join(alice, "a", false);
    room.runCommand(update("a", HELLO));
    room.runCommand(update("a", WORLD));
    YDoc client = new YDoc();
    client.apply(HELLO);
    alice.receiveSeveralMessages(2); // the two acknowledgements
    room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.SyncStep1(client.stateVector())));
    SyncProtocol.SyncUpdate step2 = (SyncProtocol.SyncUpdate) SyncProtocol.decode(((RoomProtocol.Send) alice.receiveMessage()).frame());
    assertTrue(step2.step2());
    client.apply(step2.update());
    assertEquals(Map.of(1L, 11L), client.stateVectorMap());
  }

  @Test
  void malformedUpdateClosesOnlyItsConnectionAndJournalsNothing() {
    join(alice, "a", false);
    join(bob, "b", false);
    var result = room.runCommand(update("a", new byte[] {1, 1, 1, 0, 4}));
    assertTrue(result.hasNoEvents());
    RoomProtocol.Close close = (RoomProtocol.Close) alice.receiveMessage();
    assertEquals(CloseCodes.INVALID_PAYLOAD, close.code());
    bob.expectNoMessage(QUIET);
    assertEquals(1, updatesIn(room.runCommand(update("b", HELLO))));
  }

  /** State vectors that decode as base64url but not as a Yjs state vector (or not wholly). */
  static final List<byte[]> MALFORMED_STATE_VECTORS = List.of(
      new byte[] {1}, // one entry announced, none there ("AQ")
      new byte[] {2, 1, 1}, // two announced, the first without its clock
      new byte[] {(byte) 0xff}, // a varUint that never ends
      new byte[] {1, 1, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0x7f}, // clock past 2^53
      new byte[] {0, 0}); // the empty vector and a byte after it

  @Test
  void aDocumentReadWithAMalformedStateVectorIsRefusedAndTheRoomServesOn() {
    join(alice, "a", false);
    room.runCommand(update("a", HELLO));
    alice.receiveMessage(); // acknowledged
    TestProbe<RoomProtocol.DocumentReply> api = testKit.createTestProbe();
    for (byte[] sv : MALFORMED_STATE_VECTORS) {
      room.runCommand(new RoomProtocol.ReadUpdate(sv, api.ref()));
      RoomProtocol.UpdateRefused refused = assertInstanceOf(RoomProtocol.UpdateRefused.class, api.receiveMessage(), java.util.Arrays.toString(sv));
      assertEquals(400, refused.status());
      assertEquals("bad_state_vector", refused.code());
    }
    alice.expectNoMessage(QUIET); // neither closed nor told to rejoin
    assertEquals(1, room.runCommand(update("a", WORLD)).events().size());
    room.runCommand(new RoomProtocol.ReadUpdate(null, api.ref()));
    YDoc read = new YDoc();
    read.apply(assertInstanceOf(RoomProtocol.DocumentData.class, api.receiveMessage()).data());
    assertEquals(Map.of(1L, 11L), read.stateVectorMap());
  }

  @Test
  void malformedClientMessagesOfEveryKindCloseOnlyTheirSenderAndTheRoomServesOn() {
    join(bob, "b", false);
    List<SyncProtocol.ClientMessage> malformed = new java.util.ArrayList<>();
    for (byte[] sv : MALFORMED_STATE_VECTORS) malformed.add(new SyncProtocol.SyncStep1(sv));
    malformed.add(new SyncProtocol.SyncUpdate(new byte[] {1, 1, 1, 0, 4}, false)); // truncated update
    malformed.add(new SyncProtocol.SyncUpdate(new byte[] {(byte) 0xff}, true)); // a step 2 that is no update
    // awareness as another node's session sends it: its bytes only, checked by the room
    malformed.add(new SyncProtocol.AwarenessUpdate(new byte[] {5, 1}));
    malformed.add(new SyncProtocol.AwarenessUpdate(awareness(7, 1, "{\"unterminated")));
    int n = 0;
    for (SyncProtocol.ClientMessage m : malformed) {
      TestProbe<RoomProtocol.Outbound> mallory = testKit.createTestProbe();
      join(mallory, "m" + n++, false);
      assertTrue(room.runCommand(new RoomProtocol.FromClient("m" + (n - 1), m)).hasNoEvents());
      RoomProtocol.Close close = (RoomProtocol.Close) mallory.fishForMessage(Duration.ofSeconds(3), o -> o instanceof RoomProtocol.Close
          ? akka.actor.testkit.typed.javadsl.FishingOutcomes.complete() : akka.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore()).get(0);
      assertTrue(close.code() == CloseCodes.INVALID_PAYLOAD || close.code() == CloseCodes.POLICY_VIOLATION, m + ": " + close);
      room.runCommand(new RoomProtocol.Leave("m" + (n - 1)));
    }
    // query-awareness and a saved request carry nothing to parse: answered as ever
    room.runCommand(new RoomProtocol.FromClient("b", new SyncProtocol.QueryAwareness()));
    room.runCommand(new RoomProtocol.FromClient("b", new SyncProtocol.SavedRequest(new byte[] {(byte) 102, 0})));
    assertArrayEquals(new byte[] {(byte) 102, 0}, ((RoomProtocol.Send) bob.fishForMessage(Duration.ofSeconds(3), o -> o instanceof RoomProtocol.Send
        ? akka.actor.testkit.typed.javadsl.FishingOutcomes.complete() : akka.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore()).get(0)).frame());
    assertEquals(1, updatesIn(room.runCommand(update("b", HELLO))));
    assertEquals(Map.of(1L, 5L), room.getState().doc().stateVectorMap());
  }

  @Test
  void documentApiRequestsThatCannotBeServedAreRefusedAndTheRoomServesOn() {
    join(alice, "a", false);
    TestProbe<RoomProtocol.DocumentReply> api = testKit.createTestProbe();
    room.runCommand(new RoomProtocol.ApplyUpdate(new byte[] {1, 2, 3, (byte) 0xff}, api.ref()));
    assertEquals("malformed_update", assertInstanceOf(RoomProtocol.UpdateRefused.class, api.receiveMessage()).code());
    Map<String, List<String>> noNames = new java.util.HashMap<>();
    noNames.put("text", null);
    for (Map<String, List<String>> roots : List.of(Map.of("nonsense", List.of("a")), Map.of("text", List.of("\ud800")), noNames)) {
      room.runCommand(new RoomProtocol.ReadJson(roots, api.ref()));
      assertEquals(400, assertInstanceOf(RoomProtocol.UpdateRefused.class, api.receiveMessage(), roots.toString()).status());
    }
    alice.expectNoMessage(QUIET);
    assertEquals(1, updatesIn(room.runCommand(update("a", HELLO))));
  }

  @Test
  void updatesApplyInArrivalOrderAndOutOfOrderOnesWait() {
    join(alice, "a", false);
    room.runCommand(update("a", PREFIX)); // depends on HELLO: pending
    assertEquals(Map.of(), room.getState().doc().stateVectorMap());
    room.runCommand(update("a", HELLO));
    assertEquals(Map.of(1L, 5L, 2L, 3L), room.getState().doc().stateVectorMap());
  }

  @Test
  void awarenessIsEchoedToEveryoneAndRemovedWhenItsConnectionLeaves() {
    join(alice, "a", false);
    join(bob, "b", false);
    byte[] state = awareness(42, 1, "{\"user\":\"alice\"}");
    room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.AwarenessUpdate(state)));
    assertEquals(RoomProtocol.Ack.INSTANCE, alice.receiveMessage());
    assertArrayEquals(SyncProtocol.awareness(state), ((RoomProtocol.Send) alice.receiveMessage()).frame()); // the echo
    assertArrayEquals(SyncProtocol.awareness(state), ((RoomProtocol.Send) bob.receiveMessage()).frame());
    room.runCommand(new RoomProtocol.Leave("a"));
    assertArrayEquals(SyncProtocol.awareness(awareness(42, 2, "null")), ((RoomProtocol.Send) bob.receiveMessage()).frame());
  }

  @Test
  void awarenessGatheredWithinTheRelayIntervalGoesOutAsOneFrame() {
    room = roomWith(Settings.from(ConfigFactory.parseMap(Map.of("ripple.presence.relay-interval", "1s"))
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve()));
    join(alice, "a", false);
    join(bob, "b", false);
    for (int clock = 1; clock <= 10; clock++) {
      room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.AwarenessUpdate(awareness(42, clock, "{\"x\":" + clock + "}"))));
      room.runCommand(new RoomProtocol.FromClient("b", new SyncProtocol.AwarenessUpdate(awareness(43, clock, "{\"y\":" + clock + "}"))));
    }
    List<byte[]> frames = new java.util.ArrayList<>();
    for (int i = 0; i < 40; i++) {
      RoomProtocol.Outbound m;
      try {
        m = bob.receiveMessage(Duration.ofMillis(1500));
      } catch (AssertionError quiet) {
        break;
      }
      if (m instanceof RoomProtocol.Send send) frames.add(send.frame());
    }
    assertEquals(1, frames.size(), "one frame for twenty updates");
    byte[] frame = frames.get(0);
    var entries = dev.ripple.collab.protocol.Presence.validate(
        ((SyncProtocol.AwarenessUpdate) SyncProtocol.decode(frame)).update(), new dev.ripple.collab.protocol.Presence.Limits(4, 1024));
    assertEquals(List.of(new dev.ripple.collab.protocol.Presence.Entry(42, 10, "{\"x\":10}"),
        new dev.ripple.collab.protocol.Presence.Entry(43, 10, "{\"y\":10}")), entries);
  }

  @Test
  void aConnectionCannotChangeAnotherConnectionsPresence() {
    join(alice, "a", false);
    join(bob, "b", false);
    room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.AwarenessUpdate(awareness(42, 1, "{\"user\":\"alice\"}"))));
    bob.receiveMessage(); // alice's state
    room.runCommand(new RoomProtocol.FromClient("b", new SyncProtocol.AwarenessUpdate(awareness(42, 5, "null")))); // bob removes alice
    room.runCommand(new RoomProtocol.FromClient("b", new SyncProtocol.AwarenessUpdate(awareness(42, 6, "{\"user\":\"mallory\"}"))));
    bob.receiveSeveralMessages(2); // acknowledged, not relayed
    bob.expectNoMessage(QUIET);
    TestProbe<RoomProtocol.Outbound> carol = testKit.createTestProbe();
    room.runCommand(new RoomProtocol.Join("c", carol.ref(), false));
    carol.expectMessageClass(RoomProtocol.Joined.class);
    carol.receiveMessage(); // sync step 1
    assertArrayEquals(SyncProtocol.awareness(awareness(42, 1, "{\"user\":\"alice\"}")), ((RoomProtocol.Send) carol.receiveMessage()).frame());
  }

  @Test
  void aConnectionAnnouncingTooManyClientIdsIsClosedWith1008() {
    join(alice, "a", false);
    for (int id = 1; id <= 4; id++) room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.AwarenessUpdate(awareness(id, 1, "{}"))));
    alice.receiveSeveralMessages(4);
    room.runCommand(new RoomProtocol.FromClient("a", new SyncProtocol.AwarenessUpdate(awareness(5, 1, "{}"))));
    RoomProtocol.Outbound close = alice.fishForMessage(Duration.ofSeconds(3), m -> m instanceof RoomProtocol.Close
        ? akka.actor.testkit.typed.javadsl.FishingOutcomes.complete() : akka.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore()).get(0);
    assertEquals(CloseCodes.POLICY_VIOLATION, ((RoomProtocol.Close) close).code());
  }

  @Test
  void lastLeaveCompactsTheJournalIntoASnapshot() {
    join(alice, "a", false);
    room.runCommand(update("a", HELLO));
    var result = room.runCommand(new RoomProtocol.Leave("a"));
    assertEquals(List.of(new RoomEvent.Compacted()), result.events());
    assertEquals(0, room.getState().updatesSinceCompaction());
  }

  @Test
  void restartRecoversTheDocumentFromTheJournal() {
    join(alice, "a", false);
    room.runCommand(update("a", HELLO));
    room.runCommand(update("a", WORLD));
    byte[] before = room.getState().doc().encodeStateAsUpdate();
    room.restart();
    assertArrayEquals(before, room.getState().doc().encodeStateAsUpdate());
  }

  @Test
  void historyModeCompactsPastMaxUpdates() {
    room = roomWith(Settings.from(config("history")));
    join(alice, "a", false);
    assertEquals(1, updatesIn(room.runCommand(update("a", HELLO))));
    assertEquals(1, room.runCommand(update("a", WORLD)).events().size());
    var third = room.runCommand(update("a", PREFIX));
    assertEquals(2, third.events().size());
    assertInstanceOf(RoomEvent.Compacted.class, third.events().get(1));
    assertTrue(room.runCommand(new RoomProtocol.Leave("a")).hasNoEvents()); // history mode keeps updates on leave
  }

  @Test
  void readOnlyConnectionIsToldAndItsUpdateIsNotApplied() {
    join(alice, "a", true);
    var result = room.runCommand(update("a", HELLO));
    assertTrue(result.hasNoEvents());
    byte[] frame = ((RoomProtocol.Send) alice.receiveMessage()).frame();
    assertEquals(SyncProtocol.MESSAGE_AUTH, frame[0]);
    assertEquals(Map.of(), room.getState().doc().stateVectorMap());
  }

  private static byte[] awareness(long client, long clock, String json) {
    var e = new dev.ripple.collab.yjs.Lib0Encoder();
    e.writeVarUint(1);
    e.writeVarUint(client);
    e.writeVarUint(clock);
    e.writeVarString(json);
    return e.toByteArray();
  }
}
