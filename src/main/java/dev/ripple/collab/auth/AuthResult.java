package dev.ripple.collab.auth;

/**
 * The answer to "may this token open this room?", decided before the WebSocket upgrade. Each
 * variant maps to one HTTP outcome: {@link Allowed} upgrades, {@link Denied} answers its status
 * with {@code {"error":code,"message":message}}, {@link Unavailable} answers 503 (code
 * {@value Unavailable#CODE}) so the client retries.
 */
public sealed interface AuthResult {

  /** The connection may open the room with this access. */
  record Allowed(String userId, Access access) implements AuthResult {}

  /** The verifier said no: 401 (no or invalid token) or 403 (valid token, no access to this room). */
  record Denied(int status, String code, String message) implements AuthResult {
    public static final String MISSING_TOKEN = "missing_token";
    public static final String UNAUTHORIZED = "unauthorized";
    public static final String FORBIDDEN = "forbidden";
  }

  /** The verifier could not decide (unreachable, timed out, failed, or answered outside the contract). */
  record Unavailable(String message) implements AuthResult {
    public static final int STATUS = 503;
    public static final String CODE = "auth_unavailable";
  }
}
