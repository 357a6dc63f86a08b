package dev.ripple.collab.protocol;

/**
 * A client message that breaks the y-protocols framing. Carries the WebSocket close code the
 * connection should be closed with (1003 unsupported data, 1007 invalid payload, 1009 too big).
 */
public final class ProtocolException extends RuntimeException {
  private final int closeCode;

  public ProtocolException(int closeCode, String message) {
    super(message);
    this.closeCode = closeCode;
  }

  public int closeCode() {
    return closeCode;
  }
}
