package dev.ripple.collab.yjs;

/**
 * A run of clock units of one client: an {@link Item} with content, a {@link GcStruct} whose content
 * was collected, or (in updates only) a {@link SkipStruct} marking a gap.
 */
public abstract sealed class Struct permits Item, GcStruct, SkipStruct {
  final long client;
  long clock;
  long length;

  Struct(long client, long clock, long length) {
    this.client = client;
    this.clock = clock;
    this.length = length;
  }

  public long client() { return client; }
  public long clock() { return clock; }
  public long length() { return length; }

  abstract boolean deleted();

  /** Writes this struct from clock offset {@code offset} on, in update format v1. */
  abstract void write(Lib0Encoder e, long offset);

  /** Merges {@code right} (the next struct of the same client) into this one if possible. */
  abstract boolean mergeWith(Struct right);
}
