package dev.ripple.collab.backup;

import java.util.concurrent.CompletionException;

/**
 * A snapshot backup or load that did not succeed: which room, the HTTP status Convex answered
 * ({@link #NO_STATUS} when there was no answer: timeout, connection refused, local I/O), and a
 * message saying what to check. Backups are retried by the room, so this is an expected value,
 * not a crash.
 */
public final class BackupException extends RuntimeException {
  /** The status when no HTTP answer was received. */
  public static final int NO_STATUS = -1;

  private final String roomId;
  private final int status;

  public BackupException(String roomId, int status, String message) {
    this(roomId, status, message, null);
  }

  public BackupException(String roomId, int status, String message, Throwable cause) {
    super(message, cause);
    this.roomId = roomId;
    this.status = status;
  }

  public String roomId() {
    return roomId;
  }

  /** The HTTP status of the answer, or {@link #NO_STATUS}. */
  public int status() {
    return status;
  }

  /** A failed backup call in a log line: the status and message of a BackupException, else the throwable. */
  public static String describe(Throwable t) {
    Throwable c = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    if (c instanceof BackupException b) return "status " + b.status() + ": " + b.getMessage();
    return c.toString();
  }
}
