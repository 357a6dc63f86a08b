package dev.ripple.collab.yjs;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Whether an update adds nothing to a document (the room neither journals nor broadcasts such an
 * update). Updates made by yjs 13.6: client 1 inserts "hello" into text t, deletes "ell", inserts "!".
 */
class RedundantUpdateTest {
  static final byte[] INSERT = b64("AQEBAAQBAXQFaGVsbG8A");
  static final byte[] DELETE = b64("AAEBAQED");
  static final byte[] INSERT_AFTER = b64("AQEBBYQBBAEhAA==");

  private static byte[] b64(String s) {
    return Base64.getDecoder().decode(s);
  }

  private static YDoc docWith(byte[]... updates) {
    YDoc d = new YDoc();
    for (byte[] u : updates) d.apply(u);
    return d;
  }

  @Test
  void anUpdateIsRedundantOnceApplied() {
    YDoc d = new YDoc();
    assertFalse(d.prepare(INSERT).isRedundant());
    d.apply(INSERT);
    assertTrue(d.prepare(INSERT).isRedundant());
  }

  @Test
  void aDeleteIsRedundantOnlyWhenEverythingItDeletesIsDeleted() {
    YDoc d = docWith(INSERT);
    assertFalse(d.prepare(DELETE).isRedundant());
    d.apply(DELETE);
    assertTrue(d.prepare(DELETE).isRedundant());
  }

  @Test
  void aDeleteOfStructsTheDocumentLacksIsNotRedundant() {
    assertFalse(new YDoc().prepare(DELETE).isRedundant());
  }

  @Test
  void aMergeOfKnownAndNewIsNotRedundant() {
    YDoc d = docWith(INSERT, DELETE);
    byte[] merged = Updates.mergeUpdates(List.of(INSERT, DELETE, INSERT_AFTER));
    assertFalse(d.prepare(merged).isRedundant());
    d.apply(INSERT_AFTER);
    assertTrue(d.prepare(merged).isRedundant());
  }

  @Test
  void theFullStateOfADocumentIsRedundantToItself() {
    YDoc d = docWith(INSERT, DELETE, INSERT_AFTER);
    assertTrue(d.prepare(d.encodeStateAsUpdate()).isRedundant());
    assertFalse(new YDoc().prepare(d.encodeStateAsUpdate()).isRedundant());
  }
}
