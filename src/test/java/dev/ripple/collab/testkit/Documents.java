package dev.ripple.collab.testkit;

import dev.ripple.collab.yjs.Content;
import dev.ripple.collab.yjs.Item;
import dev.ripple.collab.yjs.YDoc;

/** Reading documents in tests: the visible text of the root type "text" of an encoded state. */
public final class Documents {
  private Documents() {}

  public static String text(byte[] state) {
    YDoc d = new YDoc();
    d.apply(state);
    StringBuilder sb = new StringBuilder();
    for (Item item = d.root("text") == null ? null : d.root("text").firstItem(); item != null; item = item.right()) {
      if (!item.deleted() && item.content() instanceof Content.Str s) sb.append(s.text());
    }
    return sb.toString();
  }
}
