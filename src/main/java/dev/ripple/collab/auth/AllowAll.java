package dev.ripple.collab.auth;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Lets every connection read and write as {@value #USER_ID}: embedded dev mode only, chosen when
 * CONVEX_SITE_URL is unset (with a warning at start-up). Never use it where the port is reachable.
 */
public final class AllowAll implements Authenticator {
  public static final String USER_ID = "anonymous";
  private static final CompletionStage<AuthResult> ALLOWED =
      CompletableFuture.completedFuture(new AuthResult.Allowed(USER_ID, Access.WRITE));

  @Override
  public CompletionStage<AuthResult> verify(String token, String roomId) {
    return ALLOWED;
  }
}
