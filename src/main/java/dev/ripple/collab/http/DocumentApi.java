package dev.ripple.collab.http;

import akka.actor.typed.ActorSystem;
import akka.cluster.sharding.typed.javadsl.ClusterSharding;
import akka.cluster.sharding.typed.javadsl.EntityRef;
import akka.http.javadsl.model.ContentType;
import akka.http.javadsl.model.ContentTypes;
import akka.http.javadsl.model.HttpEntities;
import akka.http.javadsl.model.HttpEntity;
import akka.http.javadsl.model.StatusCode;
import akka.http.javadsl.model.StatusCodes;
import akka.http.javadsl.server.AllDirectives;
import akka.http.javadsl.server.PathMatchers;
import akka.http.javadsl.server.Route;
import akka.http.scaladsl.model.EntityStreamSizeException;
import akka.http.scaladsl.model.IllegalRequestException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ripple.collab.config.ConvexSettings;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.room.RoomProtocol;
import dev.ripple.collab.yjs.StateVectors;
import dev.ripple.collab.yjs.UpdateFormatException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * The document API, for the app's own backend (search indexing, AI edits, exports, imports):
 * {@code GET /api/rooms/{room}/update} (the full state, or what {@code ?stateVector=} lacks, as one
 * Yjs v1 update), {@code POST /api/rooms/{room}/update} (an update applied exactly like a client's:
 * validated, journaled, then broadcast; answered once journaled) and {@code GET /api/rooms/{room}/json}
 * (named root types as JSON). Each request goes to the room through cluster sharding, so any node
 * answers for any room, and a room never seen cold-starts as usual.
 *
 * <p>With Convex configured the caller must present {@code Authorization: Bearer <PARTYKIT_SECRET>},
 * the secret the app's Convex backend already holds; embedded mode is open, like the rest of it.
 */
final class DocumentApi extends AllDirectives {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration ASK_TIMEOUT = Duration.ofSeconds(15);
  private static final List<String> KINDS = List.of("text", "map", "array", "xml");

  private final Settings settings;
  private final ClusterSharding sharding;
  private final Optional<byte[]> secret;

  DocumentApi(ActorSystem<?> system, Settings settings) {
    this.settings = settings;
    this.sharding = ClusterSharding.get(system);
    this.secret = ConvexSettings.from(system.settings().config().getConfig("ripple"))
        .map(c -> ("Bearer " + c.secret()).getBytes(StandardCharsets.UTF_8));
  }

  Route routes() {
    return pathPrefix("api", () -> pathPrefix("rooms", () -> pathPrefix(PathMatchers.segment(), roomId -> authorized(() -> {
      if (!settings.validRoomId(roomId)) {
        return error(StatusCodes.BAD_REQUEST, "bad_room_id", "room id must match " + settings.roomIdPattern().pattern());
      }
      EntityRef<RoomProtocol.Command> room = sharding.entityRefFor(RoomProtocol.ENTITY_TYPE_KEY, roomId);
      return concat(
          path("update", () -> concat(get(() -> readUpdate(room)), post(() -> applyUpdate(room)))),
          path("json", () -> get(() -> readJson(room))));
    }))));
  }

  private Route authorized(Supplier<Route> inner) {
    if (secret.isEmpty()) return inner.get();
    return optionalHeaderValueByName("Authorization", header -> {
      byte[] given = header.orElse("").getBytes(StandardCharsets.UTF_8);
      if (!MessageDigest.isEqual(given, secret.get())) { // constant time: the secret is not guessed byte by byte
        return error(StatusCodes.UNAUTHORIZED, "unauthorized", "the document API needs Authorization: Bearer <PARTYKIT_SECRET>");
      }
      return inner.get();
    });
  }

  private Route readUpdate(EntityRef<RoomProtocol.Command> room) {
    return parameterOptional("stateVector", sv -> {
      byte[] stateVector = null;
      if (sv.isPresent()) {
        try {
          stateVector = Base64.getUrlDecoder().decode(sv.get().replace('+', '-').replace('/', '_').replace("=", ""));
        } catch (IllegalArgumentException e) {
          return error(StatusCodes.BAD_REQUEST, "bad_state_vector", "stateVector must be base64url: " + e.getMessage());
        }
        try {
          StateVectors.validate(stateVector); // checked here, before the room sees it
        } catch (UpdateFormatException e) {
          return error(StatusCodes.BAD_REQUEST, "bad_state_vector", "stateVector is not a Yjs state vector: " + e.getMessage());
        }
      }
      byte[] vector = stateVector;
      return answer(room.ask(replyTo -> new RoomProtocol.ReadUpdate(vector, replyTo), ASK_TIMEOUT), ContentTypes.APPLICATION_OCTET_STREAM);
    });
  }

  private Route readJson(EntityRef<RoomProtocol.Command> room) {
    return parameterMultiMap(query -> {
      Map<String, List<String>> roots = new LinkedHashMap<>();
      for (String kind : KINDS) {
        List<String> names = query.get(kind);
        if (names != null && !names.isEmpty()) roots.put(kind, new ArrayList<>(names));
      }
      if (roots.isEmpty()) {
        return error(StatusCodes.BAD_REQUEST, "no_roots", "name the root types to read: ?text=NAME&map=NAME&array=NAME&xml=NAME");
      }
      return answer(room.ask(replyTo -> new RoomProtocol.ReadJson(roots, replyTo), ASK_TIMEOUT), ContentTypes.APPLICATION_JSON);
    });
  }

  private Route applyUpdate(EntityRef<RoomProtocol.Command> room) {
    long limit = settings.maxMessageBytes();
    return extractMaterializer(mat -> extractRequestEntity(entity -> {
      // read at most the limit, whether the body declares its length or comes in chunks
      CompletionStage<HttpEntity.Strict> strict = entity.toStrict(ASK_TIMEOUT.toMillis(), limit, mat);
      return onComplete(strict, body -> {
        if (body.isFailure()) {
          Throwable cause = body.failed().get();
          if (tooLarge(cause)) {
            return error(StatusCodes.PAYLOAD_TOO_LARGE, "too_large",
                "an update may have at most " + limit + " bytes (ripple.limits.max-message-bytes)");
          }
          return error(StatusCodes.BAD_REQUEST, "unreadable_body", String.valueOf(cause.getMessage()));
        }
        byte[] update = body.get().getData().toArray();
        if (update.length == 0) return error(StatusCodes.BAD_REQUEST, "malformed_update", "the body must be a Yjs v1 update");
        CompletionStage<RoomProtocol.DocumentReply> reply = room.ask(replyTo -> new RoomProtocol.ApplyUpdate(update, replyTo), ASK_TIMEOUT);
        return onComplete(reply, result -> {
          if (result.isFailure()) return unavailable(result.failed().get());
          RoomProtocol.DocumentReply r = result.get();
          if (r instanceof RoomProtocol.UpdateJournaled j) {
            return json(StatusCodes.OK, JSON.createObjectNode().put("ok", true).put("updates", j.updates()).toString());
          }
          RoomProtocol.UpdateRefused refused = (RoomProtocol.UpdateRefused) r;
          return error(StatusCodes.get(refused.status()), refused.code(), refused.message());
        });
      });
    }));
  }

  /** Whether reading the body failed on the size limit (declared length or counted stream), wherever in the cause chain. */
  private static boolean tooLarge(Throwable t) {
    for (int depth = 0; t != null && depth < 8; depth++, t = t.getCause()) {
      if (t instanceof EntityStreamSizeException) return true;
      if (t instanceof IllegalRequestException ire && ire.status().intValue() == 413) return true;
      if (String.valueOf(t.getMessage()).startsWith("Request too large")) return true;
    }
    return false;
  }

  private Route answer(CompletionStage<RoomProtocol.DocumentReply> reply, ContentType type) {
    return onComplete(reply, result -> {
      if (result.isFailure()) return unavailable(result.failed().get());
      if (result.get() instanceof RoomProtocol.UpdateRefused refused) return error(StatusCodes.get(refused.status()), refused.code(), refused.message());
      RoomProtocol.DocumentData data = (RoomProtocol.DocumentData) result.get();
      return complete(StatusCodes.OK, HttpEntities.create(type, data.data()));
    });
  }

  private Route unavailable(Throwable t) {
    return error(StatusCodes.SERVICE_UNAVAILABLE, "room_unavailable", "the room did not answer in time: " + t.getMessage());
  }

  private Route json(StatusCode status, String body) {
    return complete(status, HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
  }

  private Route error(StatusCode status, String code, String message) {
    return json(status, JSON.createObjectNode().put("error", code).put("message", message).toString());
  }
}
