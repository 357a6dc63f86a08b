package dev.ripple.collab;

/** What a typing client sends: client 7's i-th one-character insert into the root text "t", each its own update. */
public final class TypedUpdates {
  private TypedUpdates() {}

  public static byte[] typed(int i) {
    return Warmup.typed(7, i, "x");
  }
}
