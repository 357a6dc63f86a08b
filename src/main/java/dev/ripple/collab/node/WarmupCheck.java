package dev.ripple.collab.node;

import akka.actor.ActorSystem;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/** Readiness: this system's {@link Warmup} has ended (an Akka Management readiness check). */
public final class WarmupCheck implements Supplier<CompletionStage<Boolean>> {
  private final Warmup.State state;

  public WarmupCheck(ActorSystem system) {
    this.state = Warmup.State.ID.get(system);
  }

  @Override
  public CompletionStage<Boolean> get() {
    return CompletableFuture.completedFuture(state.done());
  }
}
