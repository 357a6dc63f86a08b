package dev.ripple.collab.auth;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The token a client presents when it connects: the query parameter {@code token} (what
 * YPartyKitProvider's {@code params: { token }} sends; browsers cannot set WebSocket headers) or
 * else an {@code Authorization: Bearer <token>} header. Blank counts as absent.
 */
public final class ClientToken {
  public static final String QUERY_PARAMETER = "token";
  private static final String BEARER = "bearer ";

  private ClientToken() {}

  /**
   * @param query the decoded query parameters of the upgrade request
   * @param authorizationHeader the {@code Authorization} header's value, if any
   * @return the query token if present, else the bearer token, else empty
   */
  public static Optional<String> extract(Map<String, String> query, Optional<String> authorizationHeader) {
    String fromQuery = query.get(QUERY_PARAMETER);
    if (fromQuery != null && !fromQuery.isBlank()) {
      return Optional.of(fromQuery.strip());
    }
    return authorizationHeader
        .map(String::strip)
        // the scheme is case-insensitive (RFC 7235)
        .filter(h -> h.length() > BEARER.length() && h.substring(0, BEARER.length()).toLowerCase(Locale.ROOT).equals(BEARER))
        .map(h -> h.substring(BEARER.length()).strip())
        .filter(t -> !t.isEmpty());
  }
}
