package dev.ripple.collab.backup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ripple.collab.convex.ConvexStandIn;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ConvexBackupTest {
  static final String SECRET = "test-secret";
  static final byte[] STATE = {1, 2, 0, 7, (byte) 0xff, 0, 42};

  ConvexStandIn convex;
  boolean violationsExpected;

  @BeforeEach
  void start() throws Exception {
    convex = ConvexStandIn.start(SECRET);
  }

  @AfterEach
  void stop() {
    convex.close();
    if (!violationsExpected) {
      assertEquals(List.of(), convex.violations(), "requests broke the Convex contract");
    }
  }

  ConvexBackup backup(Duration timeout) {
    return new ConvexBackup(convex.siteUrl(), SECRET, timeout, ConvexBackup.defaultClient(timeout));
  }

  ConvexBackup backup() {
    return backup(Duration.ofSeconds(5));
  }

  static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  static BackupException failure(CompletionStage<?> stage) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> stage.toCompletableFuture().get(10, TimeUnit.SECONDS));
    return assertInstanceOf(BackupException.class, e.getCause());
  }

  @Test
  void saveThenLoadReturnsTheSameBytes() throws Exception {
    ConvexBackup backup = backup();
    await(backup.save("doc-1", STATE, 1));
    assertArrayEquals(STATE, await(backup.load("doc-1")).orElseThrow().state());
  }

  @Test
  void savePostsTheStateAsOctetStreamWithTheSecret() throws Exception {
    await(backup().save("doc-1", STATE, 1));
    ConvexStandIn.Request request = convex.requests().get(0);
    assertEquals("POST", request.method());
    assertEquals("/collaboration/snapshot", request.path());
    assertEquals("roomId=doc-1&updates=1", request.rawQuery());
    assertEquals(Optional.of("Bearer " + SECRET), request.header("Authorization"));
    assertEquals(Optional.of("application/octet-stream"), request.header("Content-Type"));
    assertArrayEquals(STATE, request.body());
  }

  @Test
  void roomIdsWithSpecialCharactersAreUrlEncoded() throws Exception {
    String roomId = "doc-a b&c=d+e/f?g#h%ü😀";
    ConvexBackup backup = backup();
    await(backup.save(roomId, STATE, 1));
    assertEquals("roomId=doc-a%20b%26c%3Dd%2Be%2Ff%3Fg%23h%25%C3%BC%F0%9F%98%80&updates=1", convex.requests().get(0).rawQuery());
    assertArrayEquals(STATE, convex.snapshot(roomId).orElseThrow());
    assertArrayEquals(STATE, await(backup.load(roomId)).orElseThrow().state());
  }

  @Test
  void aSaveCarriesTheCountOfUpdatesItCoversAndALoadReturnsIt() throws Exception {
    ConvexBackup backup = backup();
    await(backup.save("doc-1", STATE, 1234567890123L));
    assertEquals("roomId=doc-1&updates=1234567890123", convex.requests().get(0).rawQuery());
    SnapshotBackup.Backup loaded = await(backup.load("doc-1")).orElseThrow();
    assertArrayEquals(STATE, loaded.state());
    assertEquals(1234567890123L, loaded.updates());
    assertEquals("roomId=doc-1", convex.requests().get(1).rawQuery());
  }

  @Test
  void anOlderSaveLandingAfterANewerOneDoesNotReplaceItAndIsReportedAsRefused() throws Exception {
    ConvexBackup backup = backup();
    byte[] newer = {9, 9, 9};
    assertEquals(SnapshotBackup.SaveResult.Stored.INSTANCE, await(backup.save("doc-1", newer, 20)));
    // not confirmed: the backup kept its snapshot, covering 20 updates
    assertEquals(new SnapshotBackup.SaveResult.KeptNewer(OptionalLong.of(20)), await(backup.save("doc-1", STATE, 19)));
    SnapshotBackup.Backup loaded = await(backup.load("doc-1")).orElseThrow();
    assertArrayEquals(newer, loaded.state());
    assertEquals(20, loaded.updates());
    // an equal count is stored (a retried save)
    assertEquals(SnapshotBackup.SaveResult.Stored.INSTANCE, await(backup.save("doc-1", STATE, 20)));
    assertArrayEquals(STATE, await(backup.load("doc-1")).orElseThrow().state());
  }

  @Test
  void aRefusalWithoutItsCountIsStillARefusal() throws Exception {
    convex.answerNext(1, 200, "application/json", "{\"ok\":true,\"stored\":false}");
    assertEquals(new SnapshotBackup.SaveResult.KeptNewer(OptionalLong.empty()), await(backup().save("doc-1", STATE, 1)));
  }

  @Test
  void every2xxThatDoesNotSayStoredFalseIsStoredAsTheSeedTookIt() throws Exception {
    List<Object[]> answers = List.of(
        new Object[] {200, "application/json", "{\"ok\":true,\"stored\":true,\"updates\":1}"},
        new Object[] {200, "application/json", "{\"ok\":true}"}, // an app's own code, from before the count
        new Object[] {200, "application/json", "{}"},
        new Object[] {200, "application/json", "null"},
        new Object[] {200, "application/json", "[false]"},
        new Object[] {200, "application/json", "{\"stored\":\"false\"}"}, // not a boolean: not the reference's refusal
        new Object[] {200, "text/plain", ""},
        new Object[] {200, "text/plain", "OK"},
        new Object[] {201, "application/json", "{\"id\":\"x\"}"},
        new Object[] {204, "text/plain", ""});
    for (Object[] a : answers) {
      convex.answerNext(1, (int) a[0], (String) a[1], (String) a[2]);
      assertEquals(SnapshotBackup.SaveResult.Stored.INSTANCE, await(backup().save("doc-1", STATE, 1)), a[0] + " " + a[2]);
    }
  }

  @Test
  void aSnapshotWithoutTheCountHeaderCoversZeroUpdates() throws Exception {
    convex.putSnapshot("doc-1", STATE); // stored by Convex code from before the count
    SnapshotBackup.Backup loaded = await(backup().load("doc-1")).orElseThrow();
    assertArrayEquals(STATE, loaded.state());
    assertEquals(0, loaded.updates());
  }

  @Test
  void aCountHeaderThatIsNoCountIsAFailedLoad() {
    for (String header : List.of("-1", "abc", "1.5", "", "99999999999999999999")) {
      convex.answerNext(1, 200, "application/octet-stream", "state", java.util.Map.of(ConvexStandIn.UPDATES_HEADER, header));
      BackupException e = failure(backup().load("doc-1"));
      assertEquals(200, e.status(), header);
      assertTrue(e.getMessage().contains(ConvexStandIn.UPDATES_HEADER), e.getMessage());
    }
  }

  @Test
  void loadOfAnUnknownRoomIsEmpty() throws Exception {
    assertEquals(Optional.empty(), await(backup().load("doc-never-saved")));
    assertEquals("GET", convex.requests().get(0).method());
  }

  @Test
  void convexsOwnNoRouteAnswerIsAFailedLoadNotANewDocument() {
    // a deployment without the collaboration routes: Convex answers 404 "No matching routes found"
    convex.putSnapshot("doc-1", STATE);
    for (String body : List.of("No matching routes found", "No matching routes found\n", "  no matching routes found ",
        "No HttpAction routed for /collaboration/snapshot")) {
      convex.answerNext(1, 404, "text/plain;charset=UTF-8", body);
      BackupException e = failure(backup().load("doc-1"));
      assertEquals(404, e.status(), body);
      assertEquals("doc-1", e.roomId());
      assertTrue(e.getMessage().contains("Convex has no route /collaboration/snapshot"), e.getMessage());
      assertTrue(e.getMessage().contains(body.strip()), e.getMessage());
      assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
  }

  @Test
  void every404ButConvexsNoRouteIsANewDocumentWhateverItsBody() throws Exception {
    // the seed's rule: the app's deployed Convex code answers a missing snapshot as it likes
    List<String[]> answers = List.of(
        new String[] {"application/json", "{\"error\":\"not_found\"}"},
        new String[] {"application/json", "{\"error\":\"not_found\",\"message\":\"no snapshot for room doc-1\"}"},
        new String[] {"application/json", "{\"error\":\"not found\"}"},
        new String[] {"application/json", "{}"},
        new String[] {"application/json", "null"},
        new String[] {"text/plain", ""},
        new String[] {"text/plain", "Not found"},
        new String[] {"text/plain", "No snapshot"},
        new String[] {"text/plain", "No matching routes found for doc-1, but the route is there"},
        new String[] {"text/html", "<html>\n<body>404 Not Found</body>\n</html>"});
    for (String[] answer : answers) {
      convex.answerNext(1, 404, answer[0], answer[1]);
      assertEquals(Optional.empty(), await(backup().load("doc-1")), answer[1]);
    }
  }

  @Test
  void aNon404FailureIsAFailedLoad() {
    for (int status : List.of(400, 410, 429, 500, 502, 503)) {
      convex.answerNext(1, status, "text/plain", "Not found");
      assertEquals(status, failure(backup().load("doc-1")).status());
    }
  }

  @Test
  void serverErrorOnSaveFailsWithStatus500() {
    convex.failNext(1);
    BackupException e = failure(backup().save("doc-1", STATE, 1));
    assertEquals(500, e.status());
    assertEquals("doc-1", e.roomId());
    assertFalse(convex.snapshot("doc-1").isPresent());
  }

  @Test
  void serverErrorOnLoadFailsWithStatus500() {
    convex.putSnapshot("doc-1", STATE);
    convex.failNext(1);
    assertEquals(500, failure(backup().load("doc-1")).status());
  }

  @Test
  void timeoutFailsWithoutStatus() {
    convex.delayResponses(Duration.ofSeconds(3));
    BackupException e = failure(backup(Duration.ofMillis(300)).save("doc-1", STATE, 1));
    assertEquals(BackupException.NO_STATUS, e.status());
    assertTrue(e.getMessage().contains("300 ms"), e.getMessage());
  }

  @Test
  void stalledBodyTimesOutWithoutStatus() {
    convex.putSnapshot("doc-1", STATE);
    convex.stallBodies(Duration.ofSeconds(3));
    assertEquals(BackupException.NO_STATUS, failure(backup(Duration.ofMillis(300)).load("doc-1")).status());
  }

  @Test
  void refusedConnectionFailsWithoutStatus() {
    ConvexBackup backup = backup();
    convex.stopListening();
    assertEquals(BackupException.NO_STATUS, failure(backup.save("doc-1", STATE, 1)).status());
    assertEquals(BackupException.NO_STATUS, failure(backup.load("doc-1")).status());
  }

  @Test
  void unauthorizedAnswerFailsWithStatus401() {
    convex.answerNext(1, 401);
    BackupException e = failure(backup().save("doc-1", STATE, 1));
    assertEquals(401, e.status());
    assertTrue(e.getMessage().contains("PARTYKIT_SECRET"), e.getMessage());
  }

  @Test
  void wrongSecretIsRejectedWith401() {
    violationsExpected = true;
    ConvexBackup wrong = new ConvexBackup(convex.siteUrl(), "not-the-secret", Duration.ofSeconds(5),
        ConvexBackup.defaultClient(Duration.ofSeconds(5)));
    assertEquals(401, failure(wrong.save("doc-1", STATE, 1)).status());
    assertEquals(1, convex.violations().size());
  }

  @Test
  void failureMessageDoesNotContainTheSecret() {
    convex.answerNext(1, 403);
    BackupException e = failure(backup().save("doc-1", "x".getBytes(StandardCharsets.UTF_8), 1));
    assertEquals(403, e.status());
    assertFalse(e.getMessage().contains(SECRET), e.getMessage());
  }
}
