package dev.ripple.collab.http;

import akka.actor.typed.ActorSystem;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.server.AllDirectives;
import akka.http.javadsl.server.PathMatchers;
import akka.http.javadsl.server.Route;
import dev.ripple.collab.Settings;
import dev.ripple.collab.room.Room;
import dev.ripple.collab.session.Session;
import dev.ripple.collab.session.SessionRegistry;
import dev.ripple.collab.session.WebSocketFrames;
import java.util.UUID;

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

  public Routes(ActorSystem<?> system, Settings settings, SessionRegistry sessions) {
    this.system = system;
    this.settings = settings;
    this.sharding = ClusterSharding.get(system);
    this.sessions = sessions;
  }

  public Route routes() {
    return concat(
        pathPrefix("parties", () -> pathPrefix(PathMatchers.segment(), party -> path(PathMatchers.segment(), this::room))),
        pathPrefix("party", () -> path(PathMatchers.segment(), this::room)),
        path(PathMatchers.segment(), this::room));
  }

  private Route room(String roomId) {
    if (!settings.validRoomId(roomId)) {
      return complete(StatusCodes.BAD_REQUEST, HttpEntities.create(ContentTypes.APPLICATION_JSON,
          "{\"error\":\"bad_room_id\",\"message\":\"room id must match " + settings.roomIdPattern().pattern().replace("\\", "\\\\")
              + "\"}"));
    }
    return parameterOptional("_pk", pk -> {
      String connectionId = pk.orElseGet(() -> UUID.randomUUID().toString()) + "/" + UUID.randomUUID();
      return extractWebSocketUpgrade(upgrade -> complete(WebSocketFrames.upgrade(system, upgrade,
          Session.flow(system, settings, sessions, sharding.entityRefFor(Room.ENTITY_TYPE_KEY, roomId), roomId, connectionId, false),
          settings.maxMessageBytes())));
    });
  }
}
