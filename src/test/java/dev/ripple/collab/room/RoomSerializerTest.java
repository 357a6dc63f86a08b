package dev.ripple.collab.room;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import akka.serialization.Serializers;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.protocol.SyncProtocol;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** What rooms journal and what crosses between nodes goes through our binary serializer and back intact. */
class RoomSerializerTest {
  static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.parseMap(Map.of("akka.actor.provider", "local"))
      .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve());
  static final Serialization serialization = SerializationExtension.get(Adapter.toClassic(testKit.system()));

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @SuppressWarnings("unchecked")
  private static <T> T roundTrip(T message) {
    var serializer = serialization.findSerializerFor(message);
    assertInstanceOf(RoomSerializer.class, serializer, "bound to our serializer: " + message.getClass());
    byte[] bytes = serializer.toBinary(message);
    return (T) serialization.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, message)).get();
  }

  @Test
  void eventsAndSnapshotsRoundTrip() {
    assertArrayEquals(new byte[] {1, 2, 3}, roundTrip(new RoomEvent.UpdateApplied(new byte[] {1, 2, 3})).update());
    assertEquals(new RoomEvent.Compacted(), roundTrip(new RoomEvent.Compacted()));
    RoomEvent.BackupLoaded loaded = roundTrip(new RoomEvent.BackupLoaded(new byte[] {0, 0}, 1234567890123L));
    assertArrayEquals(new byte[] {0, 0}, loaded.state());
    assertEquals(1234567890123L, loaded.updates());
    assertEquals(new RoomEvent.BackupConfirmed(42), roundTrip(new RoomEvent.BackupConfirmed(42)));
    RoomState.Snapshot s = roundTrip(new RoomState.Snapshot(new byte[] {9, 8}, 7, 5, true, 6));
    assertEquals(6, s.notifiedUpdates());
    assertEquals(new RoomEvent.WebhookDelivered(9), roundTrip(new RoomEvent.WebhookDelivered(9)));
    // a snapshot from before webhooks ("S": no notified count) owes no notification
    RoomState.Snapshot old = (RoomState.Snapshot) serialization.deserialize(java.nio.ByteBuffer.allocate(18).put((byte) 1).putLong(7).putLong(5)
        .put((byte) 1).array(), 4711_0001, "S").get();
    assertEquals(7, old.notifiedUpdates());
    assertEquals(7, old.updates());
    assertArrayEquals(new byte[] {9, 8}, s.state());
    assertEquals(7, s.updates());
    assertEquals(5, s.savedUpdates());
    assertEquals(true, s.loaded());
  }

  @Test
  void flowControlSavedRequestsAndTheDocumentApiCrossNodes() {
    RoomProtocol.FromClient merged = roundTrip(new RoomProtocol.FromClient("c-9", new SyncProtocol.SyncUpdate(new byte[] {0, 0}, false), 37));
    assertEquals(37, merged.coalesced());
    assertEquals("c-9", merged.connectionId());
    assertEquals(RoomProtocol.Ack.INSTANCE, roundTrip(RoomProtocol.Ack.INSTANCE));
    byte[] saved = {(byte) 102, 2, 7, 9};
    RoomProtocol.FromClient s = roundTrip(new RoomProtocol.FromClient("c", SyncProtocol.decode(saved)));
    assertArrayEquals(saved, ((SyncProtocol.SavedRequest) s.message()).frame());
    akka.actor.testkit.typed.javadsl.TestProbe<RoomProtocol.DocumentReply> probe = testKit.createTestProbe();
    RoomProtocol.ReadUpdate full = roundTrip(new RoomProtocol.ReadUpdate(null, probe.ref()));
    assertEquals(null, full.stateVector());
    assertEquals(probe.ref(), full.replyTo());
    assertArrayEquals(new byte[] {1, 2}, roundTrip(new RoomProtocol.ReadUpdate(new byte[] {1, 2}, probe.ref())).stateVector());
    Map<String, java.util.List<String>> roots = new java.util.LinkedHashMap<>();
    roots.put("text", java.util.List.of("a", "b"));
    roots.put("xml", java.util.List.of("x"));
    assertEquals(roots, roundTrip(new RoomProtocol.ReadJson(roots, probe.ref())).roots());
    assertArrayEquals(new byte[] {5}, roundTrip(new RoomProtocol.ApplyUpdate(new byte[] {5}, probe.ref())).update());
    assertArrayEquals(new byte[] {6}, roundTrip(new RoomProtocol.DocumentData(new byte[] {6})).data());
    assertEquals(new RoomProtocol.UpdateJournaled(12), roundTrip(new RoomProtocol.UpdateJournaled(12)));
    assertEquals(new RoomProtocol.UpdateRefused(413, "pending_limit", "why"), roundTrip(new RoomProtocol.UpdateRefused(413, "pending_limit", "why")));
  }

  @Test
  void aBackupLoadedJournaledBeforeTheCountReadsAsCoveringZeroUpdates() {
    // manifest "L", version 1, then the state alone: what journals hold from before the count
    RoomEvent.BackupLoaded old = (RoomEvent.BackupLoaded) serialization.deserialize(new byte[] {1, 5, 6, 7}, 4711_0001, "L").get();
    assertArrayEquals(new byte[] {5, 6, 7}, old.state());
    assertEquals(0, old.updates());
    RoomEvent.BackupLoaded none = (RoomEvent.BackupLoaded) serialization.deserialize(new byte[] {1}, 4711_0001, "L").get();
    assertArrayEquals(new byte[0], none.state());
  }

  @Test
  void theWebhookOutboxsJournalSnapshotAndMessagesRoundTrip() {
    WebhookOutbox.Owed owed = roundTrip(new WebhookOutbox.Owed(1234567890123L, new byte[] {1, 7, 5}));
    assertEquals(1234567890123L, owed.updates());
    assertArrayEquals(new byte[] {1, 7, 5}, owed.stateVector());
    assertEquals(new WebhookOutbox.Delivered(41), roundTrip(new WebhookOutbox.Delivered(41)));
    WebhookOutbox.State state = roundTrip(new WebhookOutbox.State(42, new byte[] {1, 2, 3}, 40));
    assertEquals(42, state.owedUpdates());
    assertEquals(40, state.deliveredUpdates());
    assertArrayEquals(new byte[] {1, 2, 3}, state.stateVector());
    assertArrayEquals(new byte[0], roundTrip(new WebhookOutbox.State(0, new byte[0], 0)).stateVector());
    TestProbe<RoomProtocol.Command> room = testKit.createTestProbe();
    WebhookOutbox.Deliver deliver = roundTrip(new WebhookOutbox.Deliver(9, new byte[] {1, 1, 5}, room.ref()));
    assertEquals(9, deliver.updates());
    assertArrayEquals(new byte[] {1, 1, 5}, deliver.stateVector());
    assertEquals(room.ref(), deliver.room());
    assertEquals(WebhookOutbox.Resume.INSTANCE, roundTrip(WebhookOutbox.Resume.INSTANCE));
    assertEquals(new RoomProtocol.NotificationAccepted(9), roundTrip(new RoomProtocol.NotificationAccepted(9)));
    assertEquals(new RoomProtocol.NotificationDelivered(9), roundTrip(new RoomProtocol.NotificationDelivered(9)));
  }

  @Test
  void messagesBetweenNodesRoundTrip() {
    TestProbe<RoomProtocol.Outbound> session = testKit.createTestProbe();
    RoomProtocol.Join join = roundTrip(new RoomProtocol.Join("c-1", session.ref(), true));
    assertEquals("c-1", join.connectionId());
    assertEquals(session.ref(), join.session());
    assertEquals(true, join.readOnly());
    assertEquals(new RoomProtocol.Leave("c-1"), roundTrip(new RoomProtocol.Leave("c-1")));
    RoomProtocol.FromClient f = roundTrip(new RoomProtocol.FromClient("c-1", new SyncProtocol.SyncUpdate(new byte[] {0, 0}, true)));
    SyncProtocol.SyncUpdate u = (SyncProtocol.SyncUpdate) f.message();
    assertArrayEquals(new byte[] {0, 0}, u.update());
    assertEquals(true, u.step2());
    assertInstanceOf(SyncProtocol.QueryAwareness.class, roundTrip(new RoomProtocol.FromClient("c", new SyncProtocol.QueryAwareness())).message());
    assertArrayEquals(new byte[] {5}, roundTrip(new RoomProtocol.Send(new byte[] {5})).frame());
    TestProbe<RoomProtocol.Command> roomRef = testKit.createTestProbe();
    assertEquals(roomRef.ref(), roundTrip(new RoomProtocol.Joined(roomRef.ref())).room());
    assertEquals(new RoomProtocol.Close(1007, "bad ✓"), roundTrip(new RoomProtocol.Close(1007, "bad ✓")));
  }

  /**
   * Whatever bytes another node (or a corrupt journal) hands the serializer, a message it cannot read is
   * refused as NotSerializableException, with the manifest in its reason: Artery logs and drops it, so it
   * never reaches a room; it is never some other exception from deep inside the decoder.
   */
  @Test
  void malformedBytesAreRefusedAsNotSerializableWhateverTheManifest() {
    String[] manifests = {"U", "C", "S", "S2", "W", "L", "L2", "B", "J", "V", "F", "G", "A", "RJN", "RU", "RJ", "AU", "DD", "UJ",
        "UR", "O", "X", "R", "nonsense"};
    java.util.Random random = new java.util.Random(18);
    java.util.List<byte[]> payloads = new java.util.ArrayList<>(java.util.List.of(new byte[0], new byte[] {2}, new byte[] {1},
        new byte[] {1, (byte) 0xff}, new byte[] {1, 5, 'a'}, new byte[] {1, 0x7f, 0x7f, 0x7f}, new byte[] {1, 1, 'x', 1, 'y'},
        new byte[] {1, 0, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 0, 1}));
    for (int i = 0; i < 300; i++) {
      byte[] b = new byte[1 + random.nextInt(40)];
      random.nextBytes(b);
      b[0] = 1; // past the version byte: the payload decoders
      payloads.add(b);
    }
    for (String manifest : manifests) {
      for (byte[] bytes : payloads) {
        scala.util.Try<Object> read = serialization.deserialize(bytes, 4711_0001, manifest);
        if (read.isFailure()) {
          Throwable e = read.failed().get();
          assertInstanceOf(java.io.NotSerializableException.class, e, manifest + " " + java.util.Arrays.toString(bytes) + ": " + e);
          assertTrue(e.getMessage().contains(manifest), e.getMessage());
        } else if (read.get() instanceof RoomProtocol.FromClient f) {
          assertTrue(f.coalesced() >= 1, "coalesced " + f.coalesced());
        }
      }
    }
  }
}
