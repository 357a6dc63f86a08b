package dev.ripple.collab.room;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.cluster.sharding.typed.HashCodeMessageExtractor;
import com.typesafe.config.ConfigFactory;
import dev.ripple.collab.config.Settings;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** One anchor per shard, where the rooms' sharding puts it, and never a room id a client could open. */
class ShardAnchorsTest {
  @Test
  void thereIsOneAnchorInEveryShardAndNoneIsARoomAClientCanOpen() {
    int shards = 1000;
    List<String> ids = ShardAnchors.ids(shards);
    assertEquals(shards, ids.size());
    HashCodeMessageExtractor<RoomProtocol.Command> extractor = new HashCodeMessageExtractor<>(shards);
    Set<String> covered = new HashSet<>();
    Settings settings = Settings.from(ConfigFactory.load());
    for (int shard = 0; shard < shards; shard++) {
      String id = ids.get(shard);
      assertEquals(Integer.toString(shard), extractor.shardId(id), id);
      assertTrue(ShardAnchors.isAnchor(id));
      assertFalse(settings.validRoomId(id), id + " must not be a room a client can open");
      covered.add(extractor.shardId(id));
    }
    assertEquals(shards, covered.size());
  }
}
