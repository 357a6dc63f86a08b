package dev.ripple.collab.room;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.sharding.typed.HashCodeMessageExtractor;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import dev.ripple.collab.room.RoomProtocol.Command;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One tiny entity per shard, so that every shard runs before the first user arrives. Starting a shard
 * (its allocation by the coordinator, the recovery of its remembered rooms) cost about 5 ms of a new
 * document's 7 ms open (bench/load/open.sh); with the shards running, a new room costs only its own
 * start. An anchor is remembered like any entity, so the shards start again with the node; it answers
 * {@link Touch} and nothing else, holds no state, and is never a room (its id does not match the room-id
 * pattern, so no client can reach it).
 */
public final class ShardAnchors {
  private ShardAnchors() {}

  /** Anchors' entity ids start with this; no room id can. */
  public static final String PREFIX = "~shard~";

  /** Asks an anchor (and so starts its shard): answered once it runs. */
  record Touch(ActorRef<Boolean> replyTo) implements Command {}

  public static boolean isAnchor(String entityId) {
    return entityId.startsWith(PREFIX);
  }

  static Behavior<Command> behavior() {
    return Behaviors.receive(Command.class)
        .onMessage(Touch.class, t -> {
          t.replyTo().tell(Boolean.TRUE);
          return Behaviors.same();
        })
        .onMessage(RoomProtocol.Stop.class, s -> Behaviors.stopped()) // passivation and hand-off
        .build();
  }

  /** An anchor id for each of {@code numberOfShards} shards, as the default extractor maps ids to shards. */
  static List<String> ids(int numberOfShards) {
    HashCodeMessageExtractor<Command> extractor = new HashCodeMessageExtractor<>(numberOfShards);
    String[] byShard = new String[numberOfShards];
    int found = 0;
    for (long n = 0; found < numberOfShards; n++) { // hashes of distinct strings cover every shard quickly
      if (n > 1000L * numberOfShards) throw new IllegalStateException("no anchor id found for every one of " + numberOfShards + " shards");
      String id = PREFIX + n;
      int shard = Integer.parseInt(extractor.shardId(id));
      if (byShard[shard] == null) {
        byShard[shard] = id;
        found++;
      }
    }
    return List.of(byShard);
  }

  /** Starts every shard of the rooms (all asked at once); completes when all answered (fails after {@code timeout}). */
  public static CompletionStage<Void> startAll(ActorSystem<?> system, Duration timeout) {
    int shards = system.settings().config().getInt("akka.cluster.sharding.number-of-shards");
    ClusterSharding sharding = ClusterSharding.get(system);
    List<CompletableFuture<Boolean>> answers = new ArrayList<>(shards);
    for (String id : ids(shards)) {
      answers.add(AskPattern.<Command, Boolean>ask(sharding.entityRefFor(RoomProtocol.ENTITY_TYPE_KEY, id), Touch::new, timeout,
          system.scheduler()).toCompletableFuture());
    }
    return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new));
  }
}
