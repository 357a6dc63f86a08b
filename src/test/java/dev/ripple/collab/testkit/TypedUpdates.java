package dev.ripple.collab.testkit;

import dev.ripple.collab.node.WarmupTypist;

/** What a typing client sends: client 7's i-th one-character insert into the root text "t", each its own update. */
public final class TypedUpdates {
  private TypedUpdates() {}

  public static byte[] typed(int i) {
    return WarmupTypist.typed(7, i, "x");
  }
}
