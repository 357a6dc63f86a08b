package dev.ripple.collab.room;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.ActorRef;
import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.javadsl.Adapter;
import com.typesafe.config.ConfigFactory;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Await;
import scala.concurrent.duration.Duration;

/** Room placement near-clients: the asking node gets the room, nothing is rebalanced. */
class NearClientsAllocationTest {
  static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.parseMap(Map.of("akka.actor.provider", "local")));

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  private static ActorRef region() {
    return Adapter.toClassic(testKit.createTestProbe().ref());
  }

  private static IndexedSeq<String> shards(String... ids) {
    return scala.jdk.javaapi.CollectionConverters.asScala(java.util.List.of(ids)).toIndexedSeq();
  }

  @Test
  void theRequestingRegionGetsTheShardEvenWhenItHoldsTheMost() throws Exception {
    ActorRef a = region(), b = region();
    Map<ActorRef, IndexedSeq<String>> current = new HashMap<>();
    current.put(a, shards("1", "2", "3"));
    current.put(b, shards());
    NearClientsAllocation strategy = new NearClientsAllocation();
    assertEquals(a, Await.result(strategy.allocateShard(a, "4", current), Duration.create(5, TimeUnit.SECONDS)));
    assertEquals(b, Await.result(strategy.allocateShard(b, "5", current), Duration.create(5, TimeUnit.SECONDS)));
  }

  @Test
  void aRequesterThatIsNoActiveRegionGetsTheLeastLoadedOne() throws Exception {
    ActorRef a = region(), b = region(), leaving = region();
    Map<ActorRef, IndexedSeq<String>> current = new HashMap<>();
    current.put(a, shards("1", "2"));
    current.put(b, shards("3"));
    assertEquals(b, Await.result(new NearClientsAllocation().allocateShard(leaving, "4", current), Duration.create(5, TimeUnit.SECONDS)));
  }

  @Test
  void nothingIsRebalanced() throws Exception {
    Map<ActorRef, IndexedSeq<String>> current = new HashMap<>();
    current.put(region(), shards("1", "2", "3", "4", "5", "6"));
    current.put(region(), shards());
    Set<String> moved = Await.result(new NearClientsAllocation().rebalance(current, Set.of()), Duration.create(5, TimeUnit.SECONDS));
    assertTrue(moved.isEmpty());
  }
}
