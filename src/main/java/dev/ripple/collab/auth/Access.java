package dev.ripple.collab.auth;

/** What an allowed connection may do in its room: read and write, or only read. */
public enum Access {
  WRITE,
  READ
}
