import { convexTest } from "convex-test";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { internal } from "../convex/_generated/api";
import schema from "../convex/schema";
import { modules } from "./modules";

const SECRET = "s3cret-for-tests";
const AUTH = { Authorization: `Bearer ${SECRET}` };
const OCTETS = { ...AUTH, "Content-Type": "application/octet-stream" };
const JSON_HEADERS = { ...AUTH, "Content-Type": "application/json" };

const snapshotPath = (roomId: string) => `/collaboration/snapshot?roomId=${encodeURIComponent(roomId)}`;
const UPDATES = "X-Ripple-Updates";

function setup() {
  return convexTest(schema, modules);
}
type T = ReturnType<typeof setup>;

/** A save covering `updates` journaled updates (what the server sends as `&updates=`). */
async function post(t: T, roomId: string, bytes: Uint8Array<ArrayBuffer>, headers: Record<string, string> = OCTETS, updates = 1) {
  return await t.fetch(`${snapshotPath(roomId)}&updates=${updates}`, { method: "POST", headers, body: bytes });
}

async function get(t: T, roomId: string, headers: Record<string, string> = AUTH) {
  return await t.fetch(snapshotPath(roomId), { method: "GET", headers });
}

async function verify(t: T, body: unknown, headers: Record<string, string> = JSON_HEADERS) {
  return await t.fetch("/collaboration/verify", {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Every file in storage and every snapshot row. */
async function stored(t: T) {
  return await t.run(async (ctx) => ({
    files: await ctx.db.system.query("_storage").collect(),
    rows: await ctx.db.query("snapshots").collect(),
  }));
}

function bytesOf(...values: number[]): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(values);
}

/** Every byte value, then a pseudo-random tail: binary that no text decoding would survive. */
function binary(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    if (i < 256) {
      out[i] = i;
    } else {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      out[i] = x & 0xff;
    }
  }
  return out;
}

beforeEach(() => {
  vi.stubEnv("PARTYKIT_SECRET", SECRET);
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("POST/GET /collaboration/snapshot", () => {
  test("round trip keeps the binary bytes exactly", async () => {
    const t = setup();
    const state = binary(300_000, 7);
    const saved = await post(t, "doc-1", state);
    expect(saved.status).toBe(200);
    const body = await saved.json();
    expect(body).toMatchObject({ ok: true, stored: true, roomId: "doc-1", size: state.length, updates: 1 });
    expect(typeof body.updatedAt).toBe("number");

    const read = await get(t, "doc-1");
    expect(read.status).toBe(200);
    expect(read.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(new Uint8Array(await read.arrayBuffer())).toEqual(state);

    const { files, rows } = await stored(t);
    expect(files).toHaveLength(1);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ roomId: "doc-1", size: state.length, storageId: files[0]._id });
    expect(files[0].size).toBe(state.length);
  });

  test("an unknown room is exactly the contract's 404: application/json {error: not_found, message}", async () => {
    const t = setup();
    await post(t, "doc-other", bytesOf(1, 2, 3));
    const r = await get(t, "doc-missing");
    expect(r.status).toBe(404);
    expect(r.headers.get("Content-Type")).toBe("application/json");
    expect(await r.json()).toEqual({ error: "not_found", message: expect.stringContaining("doc-missing") });
  });

  test("a new snapshot replaces the old one and deletes its file", async () => {
    const t = setup();
    expect((await post(t, "doc-r", bytesOf(1, 1, 1))).status).toBe(200);
    const first = await stored(t);
    const oldId = first.rows[0].storageId;

    expect((await post(t, "doc-r", bytesOf(2, 2, 2, 2))).status).toBe(200);
    const read = await get(t, "doc-r");
    expect(new Uint8Array(await read.arrayBuffer())).toEqual(bytesOf(2, 2, 2, 2));

    const after = await stored(t);
    expect(after.rows).toHaveLength(1);
    expect(after.files).toHaveLength(1);
    expect(after.rows[0].storageId).not.toBe(oldId);
    expect(after.rows[0].size).toBe(4);
    expect(after.rows[0].updatedAt).toBeGreaterThanOrEqual(first.rows[0].updatedAt);
    expect(await t.run(async (ctx) => await ctx.storage.get(oldId))).toBeNull();
  });

  test("GET answers the count of updates the snapshot covers in X-Ripple-Updates", async () => {
    const t = setup();
    expect((await post(t, "doc-n", bytesOf(1, 2), OCTETS, 42)).status).toBe(200);
    const read = await get(t, "doc-n");
    expect(read.headers.get(UPDATES)).toBe("42");
    expect((await stored(t)).rows[0]).toMatchObject({ updates: 42 });
  });

  test("an older save landing after a newer one does not replace it", async () => {
    const t = setup();
    expect(await (await post(t, "doc-late", bytesOf(2, 2, 2), OCTETS, 20)).json()).toMatchObject({ stored: true, updates: 20 });
    const late = await post(t, "doc-late", bytesOf(1, 1), OCTETS, 19); // timed out at the server, landed now
    expect(late.status).toBe(200);
    expect(await late.json()).toMatchObject({ stored: false, updates: 20 });
    const read = await get(t, "doc-late");
    expect(new Uint8Array(await read.arrayBuffer())).toEqual(bytesOf(2, 2, 2));
    expect(read.headers.get(UPDATES)).toBe("20");
    const { files, rows } = await stored(t);
    expect(files).toHaveLength(1); // the late save's file is not left behind
    expect(rows[0]).toMatchObject({ storageId: files[0]._id, size: 3, updates: 20 });
  });

  test("a save with an equal or higher count replaces the snapshot", async () => {
    const t = setup();
    await post(t, "doc-up", bytesOf(1), OCTETS, 5);
    expect(await (await post(t, "doc-up", bytesOf(2), OCTETS, 5)).json()).toMatchObject({ stored: true, updates: 5 }); // a retry
    expect(await (await post(t, "doc-up", bytesOf(3), OCTETS, 6)).json()).toMatchObject({ stored: true, updates: 6 });
    const read = await get(t, "doc-up");
    expect(new Uint8Array(await read.arrayBuffer())).toEqual(bytesOf(3));
    expect(read.headers.get(UPDATES)).toBe("6");
    expect((await stored(t)).files).toHaveLength(1);
  });

  test("a snapshot stored before the count existed covers 0 updates: any save replaces it", async () => {
    const t = setup();
    await t.run(async (ctx) => {
      const storageId = await ctx.storage.store(new Blob([bytesOf(7, 7)]));
      await ctx.db.insert("snapshots", { roomId: "doc-old", storageId, updatedAt: 1, size: 2 });
    });
    expect((await get(t, "doc-old")).headers.get(UPDATES)).toBe("0");
    expect(await (await post(t, "doc-old", bytesOf(8), OCTETS, 0)).json()).toMatchObject({ stored: true, updates: 0 });
    expect(new Uint8Array(await (await get(t, "doc-old")).arrayBuffer())).toEqual(bytesOf(8));
    expect((await stored(t)).files).toHaveLength(1);
  });

  test("a missing or malformed updates count is 400 and stores nothing", async () => {
    const t = setup();
    for (const query of ["", "&updates=", "&updates=-1", "&updates=1.5", "&updates=1e3", "&updates=abc", "&updates=99999999999999999"]) {
      const r = await t.fetch(`${snapshotPath("doc-u")}${query}`, { method: "POST", headers: OCTETS, body: bytesOf(1) });
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({ error: "bad_updates" });
    }
    expect((await stored(t)).files).toHaveLength(0);
  });

  test("rooms are kept apart, whatever characters their ids hold", async () => {
    const t = setup();
    const rooms = ["doc-a", "doc-a/b", "doc a&b=c+d?e#f", "doc-ünïcødé-😀", "%41"];
    for (const [i, room] of rooms.entries()) {
      expect((await post(t, room, bytesOf(i, i + 100))).status).toBe(200);
    }
    for (const [i, room] of rooms.entries()) {
      const r = await get(t, room);
      expect(r.status).toBe(200);
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(bytesOf(i, i + 100));
    }
    expect((await stored(t)).files).toHaveLength(rooms.length);
    expect((await get(t, "A")).status).toBe(404); // "%41" was stored as itself, not decoded twice
  });

  test("a missing, empty or over-long roomId is 400", async () => {
    const t = setup();
    for (const path of ["/collaboration/snapshot", "/collaboration/snapshot?roomId=", "/collaboration/snapshot?room=doc-1"]) {
      const p = await t.fetch(path, { method: "POST", headers: OCTETS, body: bytesOf(1) });
      expect(p.status).toBe(400);
      expect(await p.json()).toMatchObject({ error: "bad_room_id" });
      const g = await t.fetch(path, { method: "GET", headers: AUTH });
      expect(g.status).toBe(400);
    }
    expect((await post(t, "x".repeat(513), bytesOf(1))).status).toBe(400);
    expect((await stored(t)).files).toHaveLength(0);
  });

  test("an empty body is 400 and stores nothing", async () => {
    const t = setup();
    const r = await post(t, "doc-empty", new Uint8Array(0));
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: "empty_snapshot" });
    expect((await stored(t)).files).toHaveLength(0);
  });

  test("a body that is not application/octet-stream is 415", async () => {
    const t = setup();
    const r = await post(t, "doc-t", bytesOf(1), { ...AUTH, "Content-Type": "text/plain" });
    expect(r.status).toBe(415);
    expect((await stored(t)).files).toHaveLength(0);
  });

  test("a missing or wrong secret is 401 and changes nothing", async () => {
    const t = setup();
    await post(t, "doc-s", bytesOf(9));
    const wrong: Record<string, string>[] = [
      {},
      { Authorization: "" },
      { Authorization: SECRET },
      { Authorization: `Basic ${SECRET}` },
      { Authorization: `Bearer ${SECRET}x` },
      { Authorization: `Bearer ${SECRET.slice(0, -1)}` },
      { Authorization: "Bearer s3cret-for-tesTs" },
      { Authorization: `Bearer ${SECRET} extra` },
    ];
    for (const headers of wrong) {
      const p = await post(t, "doc-s", bytesOf(1, 2), { ...headers, "Content-Type": "application/octet-stream" });
      expect(p.status).toBe(401);
      expect(await p.json()).toMatchObject({ error: "unauthorized", message: expect.any(String) });
      expect((await get(t, "doc-s", headers)).status).toBe(401);
      expect((await verify(t, { token: "tok", roomId: "doc-s" }, { ...headers, "Content-Type": "application/json" })).status).toBe(401);
    }
    const read = await get(t, "doc-s");
    expect(new Uint8Array(await read.arrayBuffer())).toEqual(bytesOf(9));
    expect((await stored(t)).files).toHaveLength(1);
  });

  test("the secret check comes before the roomId check", async () => {
    const t = setup();
    const r = await t.fetch("/collaboration/snapshot", { method: "GET" });
    expect(r.status).toBe(401);
  });

  test("without PARTYKIT_SECRET on the deployment every request is refused with 500", async () => {
    const t = setup();
    vi.stubEnv("PARTYKIT_SECRET", "");
    const r = await get(t, "doc-1", { Authorization: "Bearer " });
    expect(r.status).toBe(500);
    expect(await r.json()).toMatchObject({ error: "not_configured" });
  });

  test("a row whose file is gone is a 500, never a 404 (which would start the room empty)", async () => {
    const t = setup();
    await post(t, "doc-gone", bytesOf(5));
    await t.run(async (ctx) => {
      const row = (await ctx.db.query("snapshots").first())!;
      await ctx.storage.delete(row.storageId);
    });
    const r = await get(t, "doc-gone");
    expect(r.status).toBe(500);
    expect(await r.json()).toMatchObject({ error: "snapshot_unavailable" });
  });

  test("snapshots:remove forgets the row and the file", async () => {
    const t = setup();
    await post(t, "doc-rm", bytesOf(5));
    expect(await t.mutation(internal.snapshots.remove, { roomId: "doc-rm" })).toBe(true);
    expect(await t.mutation(internal.snapshots.remove, { roomId: "doc-rm" })).toBe(false);
    expect((await get(t, "doc-rm")).status).toBe(404);
    expect(await stored(t)).toEqual({ files: [], rows: [] });
  });
});

describe("POST /collaboration/verify", () => {
  async function seeded() {
    const t = setup();
    await t.mutation(internal.collaboration.createToken, { token: "tok-w", userId: "user-w", access: "write", rooms: ["doc-1", "doc-2"] });
    await t.mutation(internal.collaboration.createToken, { token: "tok-r", userId: "user-r", access: "read", rooms: ["doc-1"] });
    await t.mutation(internal.collaboration.createToken, { token: "tok-p", userId: "user-p", access: "write", roomPrefixes: ["doc-team-"] });
    await t.mutation(internal.collaboration.createToken, { token: "tok-old", userId: "user-o", access: "write", rooms: ["doc-1"], expiresAt: Date.now() - 1 });
    return t;
  }

  test("a write token is 200 with userId and access write", async () => {
    const t = await seeded();
    const r = await verify(t, { token: "tok-w", roomId: "doc-2" });
    expect(r.status).toBe(200);
    expect(r.headers.get("Content-Type")).toBe("application/json");
    expect(await r.json()).toEqual({ userId: "user-w", access: "write" });
  });

  test("a read token is 200 with access read", async () => {
    const t = await seeded();
    const r = await verify(t, { token: "tok-r", roomId: "doc-1" });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ userId: "user-r", access: "read" });
  });

  test("a prefix grant covers every room with that prefix and no other", async () => {
    const t = await seeded();
    expect(await (await verify(t, { token: "tok-p", roomId: "doc-team-42" })).json()).toEqual({ userId: "user-p", access: "write" });
    expect((await verify(t, { token: "tok-p", roomId: "doc-teams" })).status).toBe(403);
  });

  test("an unknown, empty or expired token is 401 with a JSON error", async () => {
    const t = await seeded();
    for (const token of ["nope", "", "tok-old", "TOK-W"]) {
      const r = await verify(t, { token, roomId: "doc-1" });
      expect(r.status).toBe(401);
      expect(await r.json()).toEqual({ error: "invalid_token", message: expect.any(String) });
    }
  });

  test("a valid token without access to the room is 403 with a JSON error", async () => {
    const t = await seeded();
    const r = await verify(t, { token: "tok-r", roomId: "doc-2" });
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ error: "forbidden", message: expect.stringContaining("doc-2") });
  });

  test("a body that is not {token, roomId} is 400", async () => {
    const t = await seeded();
    for (const body of ["not json", "[]", "null", { token: "tok-w" }, { roomId: "doc-1" }, { token: 1, roomId: "doc-1" }, { token: "tok-w", roomId: "" }]) {
      const r = await verify(t, body);
      expect(r.status).toBe(400);
      expect((await r.json()).error).toMatch(/^bad_/);
    }
  });

  test("a body that is not application/json is 415", async () => {
    const t = await seeded();
    const r = await verify(t, { token: "tok-w", roomId: "doc-1" }, { ...AUTH, "Content-Type": "text/plain" });
    expect(r.status).toBe(415);
  });

  test("createToken generates a random token when none is given; revokeToken ends it", async () => {
    const t = setup();
    const token = await t.mutation(internal.collaboration.createToken, { userId: "u", access: "write", rooms: ["doc-x"] });
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect((await verify(t, { token, roomId: "doc-x" })).status).toBe(200);
    await expect(t.mutation(internal.collaboration.createToken, { token, userId: "v", access: "read", rooms: ["doc-x"] })).rejects.toThrow(/already exists/);
    expect(await t.mutation(internal.collaboration.revokeToken, { token })).toBe(true);
    expect((await verify(t, { token, roomId: "doc-x" })).status).toBe(401);
  });
});

describe("routing", () => {
  test("other paths and methods are 404", async () => {
    const t = setup();
    expect((await t.fetch("/collaboration/verify", { method: "GET", headers: AUTH })).status).toBe(404);
    expect((await t.fetch("/collaboration/other", { method: "POST", headers: AUTH })).status).toBe(404);
  });

  test("a path without a route is not answered with the reference's not-found JSON", async () => {
    // a deployed Convex answers it with the plain text "No matching routes found" (bridge.ts does the same),
    // which the server takes for a failed load; convex-test words it differently
    const t = setup();
    const r = await t.fetch("/collaboration/snapshots?roomId=doc-1", { method: "GET", headers: AUTH });
    expect(r.status).toBe(404);
    const text = await r.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON at all: not the contract's answer either
    }
    expect(body).not.toMatchObject({ error: "not_found" });
  });
});
