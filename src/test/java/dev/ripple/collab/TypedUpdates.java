package dev.ripple.collab;

/**
 * Kept only for room/RoomLifecycleTest, which names {@code dev.ripple.collab.TypedUpdates} in full and
 * is being edited by the Room split on another branch: once that test says
 * {@code dev.ripple.collab.testkit.TypedUpdates}, delete this class (the root test package is then empty).
 */
@Deprecated
public final class TypedUpdates {
  private TypedUpdates() {}

  public static byte[] typed(int i) {
    return dev.ripple.collab.testkit.TypedUpdates.typed(i);
  }
}
