package dev.ripple.collab.node;

import akka.actor.AbstractExtensionId;
import akka.actor.ExtendedActorSystem;
import akka.actor.Extension;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.AskPattern;
import akka.cluster.sharding.ShardRegion;
import akka.cluster.sharding.typed.ClusterShardingQuery;
import akka.cluster.sharding.typed.GetShardRegionState;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import dev.ripple.collab.config.WarmupSettings;
import dev.ripple.collab.journal.JournalDatabase;
import dev.ripple.collab.room.RoomProtocol;
import dev.ripple.collab.room.ShardAnchors;
import dev.ripple.collab.room.WarmupRooms;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node warms its own real path before it says it is ready: right after binding, it opens
 * WebSocket connections to itself, to throwaway rooms, and types into them the way clients do (sync
 * step 1, updates, awareness), so the JIT has compiled the engine, the sessions, the rooms, the
 * journal writes and the sockets before a balancer sends it the clients of a failed node or a
 * deploy. {@code /ready} answers 503 until the warm-up ends (or fails, or times out: a node is never
 * kept out of rotation by its own warm-up). Connections that arrive meanwhile are served as always.
 *
 * <p>Warm-up rooms are ids with the prefix {@value WarmupRooms#ROOM_PREFIX}. Only a connection with this
 * process's random secret in the {@value #HEADER} header may open one (anyone else gets 403, whatever
 * the room-id pattern). They have no backup (Convex is neither read nor written) and no webhooks;
 * their journal rows are deleted after they stopped, and at the next start of any node.
 */
public final class Warmup {
  private static final Logger log = LoggerFactory.getLogger(Warmup.class);

  /** The header that carries this process's warm-up secret. */
  public static final String HEADER = "X-Ripple-Warmup";

  private final WarmupSettings settings;
  private final String secret;
  private final String runId;

  public Warmup(WarmupSettings settings) {
    this.settings = settings;
    SecureRandom random = new SecureRandom();
    byte[] s = new byte[24];
    random.nextBytes(s);
    this.secret = HexFormat.of().formatHex(s);
    this.runId = HexFormat.of().formatHex(s, 0, 4);
  }

  /** Whether a connection presenting {@code headerValue} may open a warm-up room. */
  public boolean admits(Optional<String> headerValue) {
    return headerValue.isPresent()
        && MessageDigest.isEqual(headerValue.get().getBytes(StandardCharsets.UTF_8), secret.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Runs the warm-up against this node's own port, in the background, and marks the system ready
   * when it ends. Without warm-up ({@code enabled = off}) the system is ready at once.
   */
  public CompletionStage<Void> start(ActorSystem<?> system, int port) {
    State state = State.ID.get(system.classicSystem());
    if (!settings.enabled()) {
      state.done.complete(null);
      return state.done;
    }
    long started = System.nanoTime();
    CompletableFuture<Void> run = CompletableFuture.runAsync(() -> deleteRows(system, WarmupRooms.ROOM_PREFIX), blocking(system))
        .exceptionally(e -> null) // a failed clean-up of earlier warm-ups does not stop this one
        .thenCompose(x -> startShards(system))
        .thenCompose(x -> typeIntoOwnRooms(port))
        .orTimeout(settings.timeout().toMillis(), TimeUnit.MILLISECONDS);
    run.whenComplete((ok, failure) -> {
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      if (failure == null) {
        state.warmed = true;
        log.info("warm-up done in {} ms ({} rooms x {} clients x {} updates): ready", ms,
            settings.rooms(), settings.clientsPerRoom(), settings.updatesPerClient());
      } else {
        log.warn("warm-up did not finish ({} ms): ready anyway; {}", ms, failure.toString());
      }
      state.done.complete(null);
      // the rooms stop once their clients left and their (no-op) final save is made: then their rows go.
      // A room still running would journal its final save after the deletion, so wait until none runs here.
      system.scheduler().scheduleOnce(settings.cleanupAfter(),
          () -> deleteOnceStopped(system, System.nanoTime() + STOP_WAIT.toNanos()), system.executionContext());
    });
    return state.done;
  }

  /** Every shard of the rooms running before the first user arrives (ripple.warmup.start-shards); a failure is logged, not fatal. */
  private CompletionStage<Void> startShards(ActorSystem<?> system) {
    if (!settings.startShards()) return CompletableFuture.completedFuture(null);
    long started = System.nanoTime();
    return ShardAnchors.startAll(system, settings.timeout()).handle((ok, failure) -> {
      if (failure != null) log.warn("warm-up: not every shard started ({}); they start on first use", failure.toString());
      else log.info("warm-up: every room shard runs ({} ms)", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      return null;
    });
  }

  /** How long the clean-up waits at most for the warm-up rooms to stop; then it deletes anyway (the next start deletes what is left). */
  private static final Duration STOP_WAIT = Duration.ofMinutes(2);

  /**
   * Deletes this run's warm-up rows once this node's shard region runs none of its rooms, asking
   * every 500 ms; at {@code deadline} (System.nanoTime) it deletes anyway.
   */
  private void deleteOnceStopped(ActorSystem<?> system, long deadline) {
    roomsRunning(system, WarmupRooms.ROOM_PREFIX + runId)
        .whenComplete((count, failure) -> {
          boolean running = failure != null || count > 0; // no answer: ask again
          if (running && System.nanoTime() < deadline) {
            system.scheduler().scheduleOnce(Duration.ofMillis(500), () -> deleteOnceStopped(system, deadline),
                system.executionContext());
            return;
          }
          if (running) log.warn("warm-up rooms still run after {}: deleting their journal rows anyway", STOP_WAIT);
          CompletableFuture.runAsync(() -> deleteRows(system, WarmupRooms.ROOM_PREFIX + runId), blocking(system))
              .whenComplete((x, e) -> {
                if (e != null) log.warn("deleting the warm-up rooms' journal rows failed: {}", e.toString());
              });
        });
  }

  /** How many rooms whose id starts with {@code prefix} this node's shard region runs. */
  public static CompletionStage<Long> roomsRunning(ActorSystem<?> system, String prefix) {
    return AskPattern.<ClusterShardingQuery, ShardRegion.CurrentShardRegionState>ask(
            ClusterSharding.get(system).shardState(), replyTo -> new GetShardRegionState(RoomProtocol.ENTITY_TYPE_KEY, replyTo),
            Duration.ofSeconds(10), system.scheduler())
        .thenApply(state -> state.getShards().stream()
            .flatMap(shard -> shard.getEntityIds().stream()).filter(id -> id.startsWith(prefix)).count());
  }

  private static Executor blocking(ActorSystem<?> system) {
    return system.dispatchers().lookup(DispatcherSelector.blocking());
  }

  /** Deletes the journal rows of the warm-up rooms whose id starts with {@code roomIdPrefix}. */
  private static void deleteRows(ActorSystem<?> system, String roomIdPrefix) {
    JournalDatabase.deleteWithPrefix(system, WarmupRooms.persistenceIdPrefix(roomIdPrefix));
  }

  private CompletableFuture<Void> typeIntoOwnRooms(int port) {
    HttpClient http = HttpClient.newHttpClient();
    List<CompletableFuture<Void>> clients = new ArrayList<>();
    for (int r = 0; r < settings.rooms(); r++) {
      String room = WarmupRooms.ROOM_PREFIX + runId + "~" + r;
      for (int c = 0; c < settings.clientsPerRoom(); c++) {
        long clientId = 1_000_000L + r * 1_000L + c;
        clients.add(new WarmupTypist(http, URI.create("ws://127.0.0.1:" + port + "/parties/main/" + room), clientId, secret,
            settings.updatesPerClient()).run());
      }
    }
    return CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new));
  }

  /** Per actor system: whether its warm-up ended. */
  public static final class State implements Extension {
    public static final Id ID = new Id();
    final CompletableFuture<Void> done = new CompletableFuture<>();
    /** Whether the warm-up ran to its end (else it failed or timed out, and the node is ready anyway). */
    volatile boolean warmed;

    /** Whether the warm-up ran to its end. */
    public boolean warmed() {
      return warmed;
    }

    /** Whether the warm-up ended (ran to its end, failed or timed out): the node is ready. */
    public boolean done() {
      return done.isDone();
    }

    /** Completes when the warm-up ends. */
    public CompletionStage<Void> ended() {
      return done;
    }

    public static final class Id extends AbstractExtensionId<State> {
      @Override
      public State createExtension(ExtendedActorSystem system) {
        return new State();
      }
    }
  }
}
