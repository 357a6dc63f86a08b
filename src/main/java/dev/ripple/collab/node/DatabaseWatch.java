package dev.ripple.collab.node;

import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.ClusterEvent;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import akka.cluster.ddata.Key;
import akka.cluster.ddata.LWWMap;
import akka.cluster.ddata.LWWMapKey;
import akka.cluster.ddata.SelfUniqueAddress;
import akka.cluster.ddata.typed.javadsl.DistributedData;
import akka.cluster.ddata.typed.javadsl.Replicator;
import akka.cluster.ddata.typed.javadsl.ReplicatorMessageAdapter;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Leave;
import com.typesafe.config.Config;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cluster node that has lost its database cannot keep a single update of its rooms: their writes
 * fail on it while the other nodes could serve them. Every {@code interval} this node checks the
 * database (the readiness check's own query, so /ready says not ready at once) and tells the others,
 * through Distributed Data, when it last reached it. Once it has failed for {@code lostAfter} and
 * another Up node reached the database lately, this node leaves the cluster: its shards are handed
 * over and its rooms start on the others, whose clients reconnect there (1012); the process exits
 * (cluster.conf's exit-jvm) and its supervisor (compose's restart policy) starts it again, to join
 * once the database answers. When no other node reaches the database either, nobody leaves: leaving
 * would only take the whole cluster down with it.
 */
public final class DatabaseWatch {
  private static final Logger log = LoggerFactory.getLogger(DatabaseWatch.class);
  private static final Key<LWWMap<String, Long>> REACHED = LWWMapKey.create("ripple-database-reached");

  /** How often the database is checked, and how long it may fail before this node gives its rooms up. */
  public record Settings(Duration interval, Duration lostAfter) {
    public static Settings from(Config ripple) {
      return new Settings(ripple.getDuration("cluster.database-check-interval"), ripple.getDuration("cluster.database-lost-after"));
    }
  }

  public interface Msg {}

  private record Tick() implements Msg {}

  private record Checked(boolean ok) implements Msg {}

  private record Seen(Replicator.SubscribeResponse<LWWMap<String, Long>> response) implements Msg {}

  private record Written(Replicator.UpdateResponse<LWWMap<String, Long>> response) implements Msg {}

  private DatabaseWatch() {}

  /** @param check the database check (true when it answered) */
  public static Behavior<Msg> create(Supplier<CompletionStage<Boolean>> check, Settings settings) {
    return Behaviors.setup(ctx -> DistributedData.<Msg, LWWMap<String, Long>>withReplicatorMessageAdapter(replicator ->
        Behaviors.withTimers(timers -> {
          SelfUniqueAddress self = DistributedData.get(ctx.getSystem()).selfUniqueAddress();
          String me = self.uniqueAddress().address().toString();
          replicator.subscribe(REACHED, Seen::new);
          timers.startTimerWithFixedDelay(new Tick(), settings.interval());
          return new State(ctx, replicator, self, me, check, settings).behavior();
        })));
  }

  private static final class State {
    final ActorContext<Msg> ctx;
    final ReplicatorMessageAdapter<Msg, LWWMap<String, Long>> replicator;
    final SelfUniqueAddress self;
    final String me;
    final Supplier<CompletionStage<Boolean>> check;
    final Settings settings;
    Map<String, Long> reached = Map.of();
    long failingSince;
    boolean leaving;

    State(ActorContext<Msg> ctx,
        ReplicatorMessageAdapter<Msg, LWWMap<String, Long>> replicator,
        SelfUniqueAddress self, String me, Supplier<CompletionStage<Boolean>> check, Settings settings) {
      this.ctx = ctx;
      this.replicator = replicator;
      this.self = self;
      this.me = me;
      this.check = check;
      this.settings = settings;
    }

    Behavior<Msg> behavior() {
      return Behaviors.receive(Msg.class)
          .onMessage(Tick.class, t -> {
            ctx.pipeToSelf(check.get(), (ok, error) -> new Checked(error == null && Boolean.TRUE.equals(ok)));
            return Behaviors.same();
          })
          .onMessage(Checked.class, this::onChecked)
          .onMessage(Seen.class, s -> {
            if (s.response() instanceof Replicator.Changed<LWWMap<String, Long>> changed) {
              reached = Map.copyOf(changed.get(REACHED).getEntries());
            }
            return Behaviors.same();
          })
          .onMessage(Written.class, w -> Behaviors.same())
          .build();
    }

    Behavior<Msg> onChecked(Checked c) {
      long now = System.currentTimeMillis();
      if (c.ok()) {
        if (failingSince != 0) log.info("the database answers again");
        failingSince = 0;
        replicator.askUpdate(replyTo -> new Replicator.Update<>(REACHED, LWWMap.create(), Replicator.writeLocal(), replyTo,
            map -> map.put(self, me, now)), Written::new);
        return Behaviors.same();
      }
      if (failingSince == 0) {
        failingSince = now;
        log.warn("the database does not answer: this node is not ready; it gives its rooms up after {} s unless it answers",
            settings.lostAfter().toSeconds());
      }
      if (!leaving && now - failingSince >= settings.lostAfter().toMillis()) {
        String other = otherNodeReachingTheDatabase(now);
        if (other != null) {
          leaving = true;
          log.error("the database has not answered for {} s while {} reaches it: this node leaves the cluster, and its rooms move there",
              (now - failingSince) / 1000, other);
          Cluster cluster = Cluster.get(ctx.getSystem());
          cluster.manager().tell(Leave.create(cluster.selfMember().address()));
        }
      }
      return Behaviors.same();
    }

    /** An Up, reachable node other than this one that reached the database lately, or null. */
    String otherNodeReachingTheDatabase(long now) {
      long fresh = Math.max(3 * settings.interval().toMillis(), 5000);
      ClusterEvent.CurrentClusterState state = Cluster.get(ctx.getSystem()).state();
      for (Member m : state.getMembers()) {
        String address = m.address().toString();
        if (address.equals(me) || m.status() != MemberStatus.up() || state.getUnreachable().contains(m)) continue;
        Long at = reached.get(address);
        if (at != null && now - at <= fresh) return address;
      }
      return null;
    }
  }
}
