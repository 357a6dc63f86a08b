package dev.ripple.collab.session;

import akka.actor.typed.ActorSystem;
import dev.ripple.collab.auth.AuthResult;
import dev.ripple.collab.auth.Authenticator;
import dev.ripple.collab.protocol.CloseCodes;
import dev.ripple.collab.room.RoomProtocol;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks the token of every open connection again, every {@code interval}: a token Convex now
 * refuses closes its connection with 4401 (401: revoked or expired) or 4403 (403, or a writer now
 * only allowed to read: it reconnects and is let in read-only). An unreachable verifier closes
 * nothing: users are not cut off by a Convex outage. The answer comes through the authenticator's
 * cache, so a revocation shows within the interval plus the cache's TTL.
 */
public final class Reverifier {
  private static final Logger log = LoggerFactory.getLogger(Reverifier.class);

  private Reverifier() {}

  /** Starts the periodic check on the system's scheduler (nothing when {@code interval} is zero). */
  public static void start(ActorSystem<?> system, SessionRegistry sessions, Authenticator authenticator, Duration interval) {
    if (interval.isZero() || interval.isNegative()) return;
    system.scheduler().scheduleAtFixedRate(interval, interval, () -> checkAll(sessions, authenticator), system.executionContext());
  }

  /** One round: asks about every authenticated connection, closes those no longer allowed. */
  static void checkAll(SessionRegistry sessions, Authenticator authenticator) {
    // one question per (token, room): the tabs of one user, and reconnects, share it
    Map<List<String>, List<SessionRegistry.Authenticated>> byToken = new HashMap<>();
    for (SessionRegistry.Authenticated a : sessions.authenticated()) {
      byToken.computeIfAbsent(List.of(a.credentials().token(), a.roomId()), k -> new ArrayList<>()).add(a);
    }
    for (List<SessionRegistry.Authenticated> group : byToken.values()) {
      SessionRegistry.Authenticated first = group.get(0);
      authenticator.verify(first.credentials().token(), first.roomId(), first.credentials().clientAddress()).thenAccept(result -> {
        for (SessionRegistry.Authenticated a : group) {
          RoomProtocol.Close close = verdict(result, a.credentials());
          if (close != null) {
            log.info("room {}: connection {} closed with {}: {}", a.roomId(), a.connectionId(), close.code(), close.reason());
            a.session().tell(close);
          }
        }
      });
    }
  }

  /** The close a re-verification calls for, or null: still allowed as before, or no verdict (unavailable, rate limited). */
  static RoomProtocol.Close verdict(AuthResult result, SessionRegistry.Credentials c) {
    if (result instanceof AuthResult.Denied d && d.status() == 401) {
      return new RoomProtocol.Close(CloseCodes.AUTH_REVOKED, "token no longer valid: " + d.message());
    }
    if (result instanceof AuthResult.Denied d && d.status() == 403) {
      return new RoomProtocol.Close(CloseCodes.FORBIDDEN, "access to this room revoked: " + d.message());
    }
    if (result instanceof AuthResult.Allowed allowed && allowed.access() != c.access()) {
      return new RoomProtocol.Close(CloseCodes.FORBIDDEN, "access changed to " + allowed.access().name().toLowerCase(Locale.ROOT)
          + ": reconnect");
    }
    return null;
  }
}
