package dev.ripple.collab.yjs;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Decodes a whole v1 update (structs per client, then the delete set) before anything is applied,
 * so that a malformed update is rejected while the document is still untouched.
 */
final class UpdateReader {
  private UpdateReader() {}

  /** One client's run of structs in an update, with a read cursor for integration. */
  static final class ClientStructs {
    final long client;
    List<Struct> refs;
    int i;

    ClientStructs(long client, List<Struct> refs) {
      this.client = client;
      this.refs = refs;
    }
  }

  record Decoded(List<ClientStructs> blocks, DeleteSet deleteSet, int deleteSetBytes) {}

  static Decoded read(byte[] update) {
    if (update == null) throw new UpdateFormatException("update is null");
    Lib0Decoder d = new Lib0Decoder(update);
    List<ClientStructs> blocks = readStructs(d);
    int dsStart = d.pos();
    DeleteSet ds = DeleteSet.read(d);
    return new Decoded(blocks, ds, d.pos() - dsStart);
  }

  static List<ClientStructs> readStructs(Lib0Decoder d) {
    int numClients = d.readCount("client blocks");
    List<ClientStructs> blocks = new ArrayList<>(numClients);
    for (int b = 0; b < numClients; b++) {
      int n = d.readCount("structs");
      long client = d.readVarUint();
      long clock = d.readVarUint();
      List<Struct> refs = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        Struct s = readStruct(d, client, clock);
        clock += s.length;
        if (clock > Lib0Decoder.MAX_SAFE_INTEGER) throw d.error("clock of client " + client + " exceeds 2^53-1");
        refs.add(s);
      }
      blocks.add(new ClientStructs(client, refs));
    }
    return blocks;
  }

  private static Struct readStruct(Lib0Decoder d, long client, long clock) {
    int info = d.readUint8();
    int ref = info & 0x1F;
    if (ref == 0 || ref == 10) {
      long len = d.readVarUint();
      if (len == 0) throw d.error((ref == 0 ? "GC" : "skip") + " struct of length 0");
      return ref == 0 ? new GcStruct(client, clock, len) : new SkipStruct(client, clock, len);
    }
    if (ref > 9) throw d.error("unknown struct/content ref " + ref + " (info byte " + info + ")");
    long oClient = 0;
    long oClock = -1;
    long roClient = 0;
    long roClock = -1;
    if ((info & 0x80) != 0) {
      oClient = d.readVarUint();
      oClock = d.readVarUint();
      if (oClient == client && oClock >= clock) throw d.error("item " + client + ":" + clock + " has a forward origin");
    }
    if ((info & 0x40) != 0) {
      roClient = d.readVarUint();
      roClock = d.readVarUint();
      if (roClient == client && roClock >= clock) throw d.error("item " + client + ":" + clock + " has a forward right origin");
    }
    Object parentRef = null;
    String parentSub = null;
    if ((info & 0xC0) == 0) {
      long parentInfo = d.readVarUint();
      if (parentInfo == 1) {
        parentRef = d.readVarString();
      } else if (parentInfo == 0) {
        long pc = d.readVarUint();
        long pk = d.readVarUint();
        if (pc == client && pk >= clock) throw d.error("item " + client + ":" + clock + " has a forward parent");
        parentRef = new Item.Id(pc, pk);
      } else {
        throw d.error("bad parent info " + parentInfo);
      }
      if ((info & 0x20) != 0) parentSub = d.readVarString();
    }
    Content content = Content.read(d, ref);
    Item item = new Item(client, clock, content);
    item.originClient = oClient;
    item.originClock = oClock;
    item.rightOriginClient = roClient;
    item.rightOriginClock = roClock;
    item.parentRef = parentRef;
    item.parentSub = parentSub;
    return item;
  }
}
