package dev.ripple.collab.http;

import akka.actor.ExtendedActorSystem;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Adapter;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.http.javadsl.model.AttributeKeys;
import akka.http.javadsl.model.ContentType;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.StatusCode;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.server.AllDirectives;
import akka.http.javadsl.server.PathMatchers;
import akka.http.javadsl.server.Route;
import akka.management.HealthCheckSettings;
import akka.management.javadsl.HealthChecks;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ripple.collab.auth.Access;
import dev.ripple.collab.auth.AuthResult;
import dev.ripple.collab.auth.Authenticator;
import dev.ripple.collab.auth.ClientToken;
import dev.ripple.collab.auth.LimitedAuthenticator;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.node.Warmup;
import dev.ripple.collab.protocol.LogSafe;
import dev.ripple.collab.room.RoomProtocol;
import dev.ripple.collab.room.ShardAnchors;
import dev.ripple.collab.room.WarmupRooms;
import dev.ripple.collab.session.Session;
import dev.ripple.collab.session.SessionRegistry;
import dev.ripple.collab.session.WebSocketFrames;
import java.net.InetAddress;
import java.time.Duration;
import java.util.UUID;
import java.util.function.Function;

/**
 * The HTTP surface: WebSocket routes as YPartyKitProvider ({@code /parties/:party/:room},
 * {@code /party/:room}) and y-websocket ({@code /:room}) use them. Room ids are checked before the
 * upgrade; a bad one is a 400 with a JSON error.
 */
public final class Routes extends AllDirectives {
  private final ActorSystem<?> system;
  private final Settings settings;
  private final ClusterSharding sharding;
  private final SessionRegistry sessions;
  private final Authenticator authenticator;
  private final WebSocketFrames frames;
  private final Metrics metrics;
  private final Warmup warmup;

  public Routes(ActorSystem<?> system, Settings settings, SessionRegistry sessions, Authenticator authenticator,
      Warmup warmup) {
    this.system = system;
    this.warmup = warmup;
    this.settings = settings;
    this.sharding = ClusterSharding.get(system);
    this.sessions = sessions;
    this.authenticator = authenticator;
    this.trustForwardedFor = authenticator instanceof LimitedAuthenticator l && l.trustForwardedFor();
    this.frames = new WebSocketFrames(system, settings.maxMessageBytes(), sessions.inbound());
    this.metrics = Metrics.get(system);
  }

  private final boolean trustForwardedFor;

  public Route routes() {
    return concat(
        health(),
        new DocumentApi(system, settings).routes(),
        pathPrefix("parties", () -> pathPrefix(PathMatchers.segment(), party -> path(PathMatchers.segment(), this::room))),
        pathPrefix("party", () -> path(PathMatchers.segment(), this::room)),
        path(PathMatchers.segment(), this::room));
  }

  private Route room(String roomId) {
    if (WarmupRooms.isWarmupRoom(roomId)) {
      // this node's own warm-up connections only: no auth to ask, no limits to count
      return optionalHeaderValueByName(Warmup.HEADER, secret -> warmup.admits(secret)
          ? extractWebSocketUpgrade(upgrade -> complete(frames.upgrade(upgrade, new Session(settings, sessions,
              sharding.entityRefFor(RoomProtocol.ENTITY_TYPE_KEY, roomId), roomId, "warmup/" + UUID.randomUUID(), false, frames::wire))))
          : error(StatusCodes.FORBIDDEN, "warmup_room", "rooms named " + WarmupRooms.ROOM_PREFIX + "... are a node's own"));
    }
    if (!settings.validRoomId(roomId)) {
      return error(StatusCodes.BAD_REQUEST, "bad_room_id", "room id must match " + settings.roomIdPattern().pattern());
    }
    // only a WebSocket upgrade gets this far: a plain request is rejected before Convex is asked about its token
    return extractWebSocketUpgrade(upgrade -> clientAddress(address -> parameterMap(query -> optionalHeaderValueByName("Authorization", authorization -> {
      // auth before the upgrade (PartyKit's onBeforeConnect): token from ?token= or Authorization: Bearer
      String token = ClientToken.extract(query, authorization).orElse(null);
      return onSuccess(authenticator.verify(token, roomId, address), result -> {
        if (result instanceof AuthResult.Denied d) return error(StatusCodes.get(d.status()), d.code(), d.message());
        if (result instanceof AuthResult.Unavailable u) {
          return error(StatusCodes.SERVICE_UNAVAILABLE, AuthResult.Unavailable.CODE, u.message());
        }
        // capacity only after auth: how full a room is, is no one's business but its users'
        if (sessions.count(roomId) >= settings.maxConnectionsPerRoom()) {
          metrics.connectionsRefused.increment();
          return error(StatusCodes.SERVICE_UNAVAILABLE, "room_full",
              "room " + roomId + " has " + settings.maxConnectionsPerRoom() + " connections, its limit; try again later");
        }
        AuthResult.Allowed allowed = (AuthResult.Allowed) result;
        boolean readOnly = allowed.access() == Access.READ;
        // the client's connection id goes into log lines: escaped, bounded
        String connectionId = LogSafe.of(query.getOrDefault("_pk", "-")) + "/" + UUID.randomUUID();
        if (token != null && !token.isBlank()) { // checked again while it is open (session/Reverifier)
          sessions.expect(connectionId, new SessionRegistry.Credentials(token, address, allowed.access()));
        }
        return complete(frames.upgrade(upgrade,
            new Session(settings, sessions, sharding.entityRefFor(RoomProtocol.ENTITY_TYPE_KEY, roomId), roomId, connectionId, readOnly, frames::wire)));
      });
    }))));
  }

  /**
   * The client's address for the per-address limits: the TCP peer's, or the last X-Forwarded-For
   * entry (the balancer's own) when {@code ripple.auth.verify.trust-forwarded-for} says only a trusted balancer reaches
   * this node.
   */
  private Route clientAddress(Function<String, Route> inner) {
    return optionalAttribute(AttributeKeys.remoteAddress, remote ->
        optionalHeaderValueByName("X-Forwarded-For", forwarded -> {
          if (trustForwardedFor && forwarded.isPresent() && !forwarded.get().isBlank()) {
            // the last entry is the one the balancer added (the address it saw); earlier ones are the client's own claims
            String[] hops = forwarded.get().split(",");
            return inner.apply(hops[hops.length - 1].strip());
          }
          return inner.apply(remote.flatMap(r -> r.getAddress()).map(InetAddress::getHostAddress).orElse("unknown"));
        }));
  }

  /**
   * {@code /alive} and {@code /ready} on the main port as well (load balancers probe the port
   * they route to): ready only when this node is Up in the cluster and the database answers.
   */
  private Route health() {
    HealthChecks checks = new HealthChecks(
        (ExtendedActorSystem) Adapter.toClassic(system),
        HealthCheckSettings.create(system.settings().config().getConfig("akka.management.health-checks")));
    ContentType.NonBinary metricsType =
        (ContentType.NonBinary) ContentTypes.parse(Metrics.CONTENT_TYPE);
    return concat(
        // the shard gauges are refreshed (asked of this node's shard region, 2 s at most) before each scrape
        path("metrics", () -> onSuccess(metrics.refreshSharding(RoomProtocol.ENTITY_TYPE_KEY, id -> !ShardAnchors.isAnchor(id), Duration.ofSeconds(2)),
            refreshed -> complete(HttpEntities.create(metricsType, metrics.render())))),
        path("alive", () -> onSuccess(checks.alive(), ok -> ok ? complete("OK") : complete(StatusCodes.SERVICE_UNAVAILABLE, "not alive"))),
        path("ready", () -> onSuccess(checks.readyResult(), r -> r.isSuccess() ? complete("OK")
            : complete(StatusCodes.SERVICE_UNAVAILABLE, "not ready: " + r.failure().orElse("")))));
  }

  /** An HTTP error before the upgrade, as a JSON body {@code {"error":code,"message":..}}. */
  private Route error(StatusCode status, String code, String message) {
    var node = JSON.createObjectNode().put("error", code).put("message", message);
    return complete(status, HttpEntities.create(ContentTypes.APPLICATION_JSON, node.toString()));
  }

  private static final ObjectMapper JSON = new ObjectMapper();
}
