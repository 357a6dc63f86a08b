package dev.ripple.collab.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClientTokenTest {
  @Test
  void tokenFromTheQuery() {
    assertEquals(Optional.of("abc"), ClientToken.extract(Map.of("token", "abc", "_pk", "x"), Optional.empty()));
  }

  @Test
  void tokenFromABearerHeader() {
    assertEquals(Optional.of("abc"), ClientToken.extract(Map.of(), Optional.of("Bearer abc")));
  }

  @Test
  void bearerSchemeIsCaseInsensitive() {
    assertEquals(Optional.of("abc"), ClientToken.extract(Map.of(), Optional.of("bearer  abc ")));
  }

  @Test
  void queryTokenWinsOverTheHeader() {
    assertEquals(Optional.of("q"), ClientToken.extract(Map.of("token", "q"), Optional.of("Bearer h")));
  }

  @Test
  void blankQueryTokenFallsBackToTheHeader() {
    assertEquals(Optional.of("h"), ClientToken.extract(Map.of("token", " "), Optional.of("Bearer h")));
  }

  @Test
  void otherSchemesAndEmptyBearerAreNoToken() {
    assertEquals(Optional.empty(), ClientToken.extract(Map.of(), Optional.of("Basic dXNlcjpwdw==")));
    assertEquals(Optional.empty(), ClientToken.extract(Map.of(), Optional.of("Bearer ")));
    assertEquals(Optional.empty(), ClientToken.extract(Map.of(), Optional.of("Bearerabc")));
  }

  @Test
  void noTokenAtAll() {
    assertEquals(Optional.empty(), ClientToken.extract(Map.of("_pk", "x"), Optional.empty()));
  }
}
