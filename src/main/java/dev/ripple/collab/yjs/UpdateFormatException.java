package dev.ripple.collab.yjs;

/**
 * A Yjs update (or state vector) that cannot be read: truncated, an unknown tag, a length that
 * overflows, a reference that cannot exist. The message says what and at which byte offset, so a
 * server can close the offending connection with a reason. A store that threw it is unchanged.
 */
public final class UpdateFormatException extends RuntimeException {
  public UpdateFormatException(String message) {
    super(message);
  }
}
