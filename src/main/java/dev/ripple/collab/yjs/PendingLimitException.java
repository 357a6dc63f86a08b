package dev.ripple.collab.yjs;

/**
 * An update would make a document hold more pending (not yet applicable) data than its configured
 * cap. The update is rejected as a whole and the document is unchanged.
 */
public final class PendingLimitException extends RuntimeException {
  public PendingLimitException(String message) {
    super(message);
  }
}
