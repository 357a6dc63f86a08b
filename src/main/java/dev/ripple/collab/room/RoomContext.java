package dev.ripple.collab.room;

import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.TimerScheduler;
import dev.ripple.collab.config.Settings;
import dev.ripple.collab.metrics.Metrics;
import dev.ripple.collab.room.RoomProtocol.Command;

/** What every part of a room incarnation shares: its actor (self, pipe-to-self), its timers, its id, the settings and the node's metrics. */
record RoomContext(ActorContext<Command> actor, TimerScheduler<Command> timers, String roomId, Settings settings, Metrics metrics) {}
