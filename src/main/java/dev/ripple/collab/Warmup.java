package dev.ripple.collab;

import akka.actor.AbstractExtensionId;
import akka.actor.ExtendedActorSystem;
import akka.actor.Extension;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.cluster.sharding.ShardRegion;
import akka.cluster.sharding.typed.ClusterShardingQuery;
import akka.cluster.sharding.typed.GetShardRegionState;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import com.typesafe.config.Config;
import dev.ripple.collab.backup.SnapshotBackup;
import dev.ripple.collab.journal.FileJournal;
import dev.ripple.collab.protocol.Presence;
import dev.ripple.collab.protocol.SyncProtocol;
import dev.ripple.collab.room.Room;
import dev.ripple.collab.yjs.Lib0Encoder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
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
 * <p>Warm-up rooms are ids with the prefix {@value #ROOM_PREFIX}. Only a connection with this
 * process's random secret in the {@value #HEADER} header may open one (anyone else gets 403, whatever
 * the room-id pattern). They have no backup (Convex is neither read nor written) and no webhooks;
 * their journal rows are deleted after they stopped, and at the next start of any node.
 */
public final class Warmup {
  private static final Logger log = LoggerFactory.getLogger(Warmup.class);

  /** Room ids of warm-up rooms start with this. */
  public static final String ROOM_PREFIX = "~warmup~";
  /** The header that carries this process's warm-up secret. */
  public static final String HEADER = "X-Ripple-Warmup";

  /** {@code ripple.warmup}. */
  public record Settings(boolean enabled, int rooms, int clientsPerRoom, int updatesPerClient, Duration timeout,
      Duration cleanupAfter) {
    public static Settings from(Config ripple) {
      Config c = ripple.getConfig("warmup");
      return new Settings(c.getBoolean("enabled"), c.getInt("rooms"), c.getInt("clients-per-room"),
          c.getInt("updates-per-client"), c.getDuration("timeout"), c.getDuration("cleanup-after"));
    }
  }

  /** A backup that stores nothing and has nothing: warm-up rooms never touch Convex. */
  public static final SnapshotBackup NO_BACKUP = new SnapshotBackup() {
    @Override
    public CompletionStage<SaveResult> save(String roomId, byte[] state, long updates) {
      return CompletableFuture.completedFuture(SaveResult.Stored.INSTANCE);
    }

    @Override
    public CompletionStage<Optional<Backup>> load(String roomId) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
  };

  public static boolean isWarmupRoom(String roomId) {
    return roomId.startsWith(ROOM_PREFIX);
  }

  private final Settings settings;
  private final String secret;
  private final String runId;

  public Warmup(Settings settings) {
    this.settings = settings;
    SecureRandom random = new SecureRandom();
    byte[] s = new byte[24];
    random.nextBytes(s);
    this.secret = HexFormat.of().formatHex(s);
    this.runId = HexFormat.of().formatHex(s, 0, 4);
  }

  /** Whether a connection presenting {@code headerValue} may open a warm-up room. */
  public boolean admits(Optional<String> headerValue) {
    return headerValue.isPresent() && java.security.MessageDigest.isEqual(
        headerValue.get().getBytes(java.nio.charset.StandardCharsets.UTF_8), secret.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  /**
   * Runs the warm-up against this node's own port, in the background, and marks the system ready
   * when it ends. Without warm-up ({@code enabled = off}) the system is ready at once.
   */
  public CompletionStage<Void> start(ActorSystem<?> system, int port) {
    State state = State.ID.get(akka.actor.typed.javadsl.Adapter.toClassic(system));
    if (!settings.enabled()) {
      state.done.complete(null);
      return state.done;
    }
    long started = System.nanoTime();
    CompletableFuture<Void> run = CompletableFuture.runAsync(() -> deleteRows(system, ROOM_PREFIX), blocking(system))
        .exceptionally(e -> null) // a failed clean-up of earlier warm-ups does not stop this one
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

  /** How long the clean-up waits at most for the warm-up rooms to stop; then it deletes anyway (the next start deletes what is left). */
  private static final Duration STOP_WAIT = Duration.ofMinutes(2);

  /**
   * Deletes this run's warm-up rows once this node's shard region runs none of its rooms, asking
   * every 500 ms; at {@code deadline} (System.nanoTime) it deletes anyway.
   */
  private void deleteOnceStopped(ActorSystem<?> system, long deadline) {
    roomsRunning(system, ROOM_PREFIX + runId)
        .whenComplete((count, failure) -> {
          boolean running = failure != null || count > 0; // no answer: ask again
          if (running && System.nanoTime() < deadline) {
            system.scheduler().scheduleOnce(Duration.ofMillis(500), () -> deleteOnceStopped(system, deadline),
                system.executionContext());
            return;
          }
          if (running) log.warn("warm-up rooms still run after {}: deleting their journal rows anyway", STOP_WAIT);
          CompletableFuture.runAsync(() -> deleteRows(system, ROOM_PREFIX + runId), blocking(system))
              .whenComplete((x, e) -> {
                if (e != null) log.warn("deleting the warm-up rooms' journal rows failed: {}", e.toString());
              });
        });
  }

  /** How many rooms whose id starts with {@code prefix} this node's shard region runs. */
  static CompletionStage<Long> roomsRunning(ActorSystem<?> system, String prefix) {
    return AskPattern.<ClusterShardingQuery, ShardRegion.CurrentShardRegionState>ask(
            ClusterSharding.get(system).shardState(), replyTo -> new GetShardRegionState(Room.ENTITY_TYPE_KEY, replyTo),
            Duration.ofSeconds(10), system.scheduler())
        .thenApply(state -> state.getShards().stream()
            .flatMap(shard -> shard.getEntityIds().stream()).filter(id -> id.startsWith(prefix)).count());
  }

  private static java.util.concurrent.Executor blocking(ActorSystem<?> system) {
    return system.dispatchers().lookup(akka.actor.typed.DispatcherSelector.blocking());
  }

  private CompletableFuture<Void> typeIntoOwnRooms(int port) {
    HttpClient http = HttpClient.newHttpClient();
    List<CompletableFuture<Void>> clients = new ArrayList<>();
    for (int r = 0; r < settings.rooms(); r++) {
      String room = ROOM_PREFIX + runId + "~" + r;
      for (int c = 0; c < settings.clientsPerRoom(); c++) {
        long clientId = 1_000_000L + r * 1_000L + c;
        clients.add(new Typist(http, URI.create("ws://127.0.0.1:" + port + "/parties/main/" + room), clientId).run());
      }
    }
    return CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new));
  }

  /**
   * Deletes the journaled events and the snapshots of warm-up rooms whose id starts with
   * {@code prefix}: through the file journal's own message in single mode, by SQL in a cluster's
   * PostgreSQL journal; snapshots are in the JDBC snapshot store in both.
   */
  static void deleteRows(ActorSystem<?> system, String prefix) {
    String persistencePrefix = "Room|" + prefix;
    Config config = system.settings().config();
    boolean fileJournal = config.getString("akka.persistence.journal.plugin").equals("ripple-file-journal");
    if (fileJournal) {
      akka.actor.ActorRef journal = akka.persistence.Persistence.get(system.classicSystem()).journalFor("", com.typesafe.config.ConfigFactory.empty());
      akka.pattern.Patterns.ask(journal, new FileJournal.DeleteAllWithPrefix(persistencePrefix), Duration.ofSeconds(30))
          .toCompletableFuture().join();
    }
    String pattern = persistencePrefix.replace("~", "~~") + "%";
    try (Connection c = dev.ripple.collab.http.DatabaseCheck.connect(config.getConfig("akka-persistence-jdbc.shared-databases.slick.db"))) {
      for (String table : fileJournal ? List.of("snapshot") : List.of("event_journal", "snapshot")) {
        try (PreparedStatement s = c.prepareStatement(
            "DELETE FROM \"" + table + "\" WHERE \"persistence_id\" LIKE ? ESCAPE '~'")) {
          s.setString(1, pattern);
          int n = s.executeUpdate();
          if (n > 0) log.debug("deleted {} warm-up rows from {}", n, table);
        }
      }
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException("deleting warm-up rows: " + e.getMessage(), e);
    }
  }

  /** One warm-up client: sync step 1, its updates (with a presence now and then), a last sync step 1, close. */
  private final class Typist implements WebSocket.Listener {
    private final HttpClient http;
    private final URI uri;
    private final long clientId;
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private java.io.ByteArrayOutputStream frame = new java.io.ByteArrayOutputStream();
    private int step2Received;
    private boolean allSent;

    Typist(HttpClient http, URI uri, long clientId) {
      this.http = http;
      this.uri = uri;
      this.clientId = clientId;
    }

    CompletableFuture<Void> run() {
      http.newWebSocketBuilder().header(HEADER, secret).connectTimeout(Duration.ofSeconds(10)).buildAsync(uri, this)
          .thenCompose(ws -> send(ws, SyncProtocol.syncStep1(new byte[] {0}), 0).thenApply(x -> ws))
          .whenComplete((ws, failure) -> {
            if (failure != null) done.completeExceptionally(failure);
          });
      return done;
    }

    /** Sends update {@code i} onwards, one frame at a time (a WebSocket takes one send at a time). */
    private CompletableFuture<Void> send(WebSocket ws, byte[] message, int next) {
      return ws.sendBinary(ByteBuffer.wrap(message), true).thenCompose(w -> {
        if (next < settings.updatesPerClient()) {
          byte[] m = next % 25 == 24
              ? SyncProtocol.awareness(Presence.encode(List.of(new Presence.Entry(clientId, next, "{\"cursor\":" + next + "}"))))
              : SyncProtocol.update(typed(clientId, next, "w"));
          return send(ws, m, next + 1);
        }
        if (next == settings.updatesPerClient()) {
          // its reply (a sync step 2) comes after the room took every update before it
          return send(ws, SyncProtocol.syncStep1(new byte[] {0}), next + 1);
        }
        synchronized (this) {
          allSent = true;
          finishIfAnswered(ws);
        }
        return CompletableFuture.completedFuture(null);
      });
    }

    private void finishIfAnswered(WebSocket ws) {
      if (allSent && step2Received >= 2 && !done.isDone()) {
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "warm-up done").whenComplete((w, e) -> done.complete(null));
      }
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      byte[] bytes = new byte[data.remaining()];
      data.get(bytes);
      frame.writeBytes(bytes);
      if (last) {
        byte[] f = frame.toByteArray();
        frame = new java.io.ByteArrayOutputStream();
        if (f.length >= 2 && f[0] == SyncProtocol.MESSAGE_SYNC && f[1] == SyncProtocol.SYNC_STEP2) {
          synchronized (this) {
            step2Received++;
            finishIfAnswered(ws);
          }
        }
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      if (!done.isDone()) done.completeExceptionally(new IllegalStateException("closed by the server: " + statusCode + " " + reason));
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      done.completeExceptionally(error);
    }
  }

  /** Client {@code clientId}'s {@code i}-th insert of {@code text} into the root text "t", each after the previous one. */
  public static byte[] typed(long clientId, int i, String text) {
    Lib0Encoder e = new Lib0Encoder();
    e.writeVarUint(1);
    e.writeVarUint(1);
    e.writeVarUint(clientId);
    e.writeVarUint(i);
    if (i == 0) {
      e.writeUint8(4); // string content, parent given by name
      e.writeVarUint(1);
      e.writeVarString("t");
    } else {
      e.writeUint8(0x84); // string content after an origin
      e.writeVarUint(clientId);
      e.writeVarUint(i - 1);
    }
    e.writeVarString(text);
    e.writeVarUint(0); // no deletes
    return e.toByteArray();
  }

  /** Whether this system's warm-up has ended: the readiness check. */
  public static final class ReadyCheck implements Supplier<CompletionStage<Boolean>> {
    private final State state;

    public ReadyCheck(akka.actor.ActorSystem system) {
      this.state = State.ID.get(system);
    }

    @Override
    public CompletionStage<Boolean> get() {
      return CompletableFuture.completedFuture(state.done.isDone());
    }
  }

  /** Per actor system: whether its warm-up ended. */
  static final class State implements Extension {
    static final Id ID = new Id();
    final CompletableFuture<Void> done = new CompletableFuture<>();
    /** Whether the warm-up ran to its end (else it failed or timed out, and the node is ready anyway). */
    volatile boolean warmed;

    static final class Id extends AbstractExtensionId<State> {
      @Override
      public State createExtension(ExtendedActorSystem system) {
        return new State();
      }
    }
  }
}
