package dev.ripple.collab.room;

import akka.actor.ActorRef;
import akka.cluster.sharding.ShardCoordinator;
import akka.dispatch.Futures;
import java.util.Comparator;
import java.util.Map;
import java.util.Set;
import scala.collection.immutable.IndexedSeq;
import scala.concurrent.Future;

/**
 * Room placement {@code near-clients}: a room's shard goes to the node whose session first asked
 * for it, and stays there (no rebalancing). Behind a balancer that sends every connection of a room
 * to the same node (nginx {@code hash $uri consistent}), a room then lives where its clients are:
 * an update is journaled and fanned out without crossing nodes. A new node takes rooms as clients
 * reach it; a lost node's rooms go to the node of the next client that asks. A requester that is
 * not an active region (it is leaving) gets the least loaded one instead.
 */
public final class NearClientsAllocation extends ShardCoordinator.AbstractShardAllocationStrategy {
  @Override
  public Future<ActorRef> allocateShard(ActorRef requester, String shardId, Map<ActorRef, IndexedSeq<String>> current) {
    if (current.containsKey(requester)) return Futures.successful(requester);
    ActorRef least = current.entrySet().stream()
        .min(Comparator.comparingInt(e -> e.getValue().size()))
        .map(Map.Entry::getKey)
        .orElse(requester);
    return Futures.successful(least);
  }

  @Override
  public Future<Set<String>> rebalance(Map<ActorRef, IndexedSeq<String>> current, Set<String> rebalanceInProgress) {
    return Futures.successful(Set.of());
  }
}
