package dev.ripple.collab.protocol;

/** WebSocket close codes the server uses, with their meaning for a Yjs client. */
public final class CloseCodes {
  private CloseCodes() {}

  public static final int GOING_AWAY = 1001;
  public static final int UNSUPPORTED_DATA = 1003;
  public static final int INVALID_PAYLOAD = 1007;
  public static final int POLICY_VIOLATION = 1008;
  public static final int TOO_BIG = 1009;
  public static final int INTERNAL_ERROR = 1011;
  public static final int SERVICE_RESTART = 1012;
  public static final int TRY_AGAIN_LATER = 1013;
  public static final int AUTH_REVOKED = 4401;
  public static final int FORBIDDEN = 4403;
}
