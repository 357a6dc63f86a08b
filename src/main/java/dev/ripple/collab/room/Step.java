package dev.ripple.collab.room;

import java.util.List;
import java.util.function.Consumer;

/**
 * What a part of a room decided about a command: the events to journal (none: nothing) and what to
 * do once they are journaled. The parts cannot build Akka effects ({@code Effect()} belongs to the
 * behaviour): {@link Room} turns a step into one.
 */
record Step(List<RoomEvent> events, Consumer<RoomState> then) {
  private static final Step NONE = new Step(List.of(), null);

  /** Nothing to journal; whatever the part did, it did at once. */
  static Step none() {
    return NONE;
  }

  static Step persist(RoomEvent event) {
    return new Step(List.of(event), null);
  }

  static Step persist(RoomEvent event, Consumer<RoomState> then) {
    return new Step(List.of(event), then);
  }

  /** {@code events}: a list the caller made for this step and does not change afterwards. */
  static Step persist(List<RoomEvent> events, Consumer<RoomState> then) {
    return new Step(events, then);
  }
}
