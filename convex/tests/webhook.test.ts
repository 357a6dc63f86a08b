/**
 * The example webhook receiver, POST /ripple/webhook (convex/webhook.ts). Signatures here are
 * computed with Node's crypto.createHmac, independently of the receiver's Web Crypto check.
 */
import { createHmac } from "node:crypto";
import { convexTest } from "convex-test";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { internal } from "../convex/_generated/api";
import schema from "../convex/schema";
import { modules } from "./modules";

const WEBHOOK_SECRET = "webhook-secret-for-tests";
const PARTYKIT_SECRET = "partykit-secret-for-tests";
const PATH = "/ripple/webhook";
const HEADER = "X-Ripple-Signature-256";

function setup() {
  return convexTest(schema, modules);
}
type T = ReturnType<typeof setup>;

/** `sha256=<lowercase hex HMAC-SHA256>` of the raw body, as the server's Webhooks.signature writes it. */
function sign(body: string | Uint8Array, secret = WEBHOOK_SECRET): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}

/** The body the server sends (same field order as Webhooks.body; Instant.toString() time). */
function event(roomId: string, updates: number, timestamp = "2026-12-01T20:00:00.123456789Z", stateVector = "AQLNrJ8FAA=="): string {
  return JSON.stringify({ event: "document.updated", id: `${roomId}:${updates}`, roomId, updates, stateVector, timestamp });
}

async function deliver(t: T, body: string | Uint8Array<ArrayBuffer>, signature: string | null = sign(body)) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (signature !== null) headers[HEADER] = signature;
  return await t.fetch(PATH, { method: "POST", headers, body });
}

async function rows(t: T) {
  return await t.run(async (ctx) => await ctx.db.query("roomChanges").collect());
}

beforeEach(() => {
  vi.stubEnv("COLLAB_WEBHOOK_SECRET", WEBHOOK_SECRET);
  vi.stubEnv("PARTYKIT_SECRET", PARTYKIT_SECRET);
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("POST /ripple/webhook", () => {
  test("a validly signed event is recorded: the room's updates, event id and times", async () => {
    const t = setup();
    const before = Date.now();
    const r = await deliver(t, event("doc-123", 42));
    expect(r.status).toBe(200);
    expect(r.headers.get("Content-Type")).toBe("application/json");
    expect(await r.json()).toEqual({ ok: true, duplicate: false });

    const stored = await rows(t);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      roomId: "doc-123",
      updates: 42,
      lastEventId: "doc-123:42",
      notifiedAt: Date.parse("2026-12-01T20:00:00.123Z"),
    });
    expect(stored[0].receivedAt).toBeGreaterThanOrEqual(before);
    expect(await t.query(internal.webhook.lastChange, { roomId: "doc-123" })).toMatchObject({ updates: 42 });
    expect(await t.query(internal.webhook.lastChange, { roomId: "doc-other" })).toBeNull();
  });

  test("the signature covers the raw bytes: non-ASCII room ids and whole-second timestamps", async () => {
    const t = setup();
    const body = new TextEncoder().encode(event("dök-✓ 1", 3, "2026-12-01T20:00:00Z"));
    const r = await deliver(t, body, sign(body));
    expect(r.status).toBe(200);
    expect((await rows(t))[0]).toMatchObject({ roomId: "dök-✓ 1", updates: 3, notifiedAt: Date.parse("2026-12-01T20:00:00Z") });
  });

  test("upper-case hex is the same signature", async () => {
    const t = setup();
    const body = event("doc-u", 1);
    const r = await deliver(t, body, "sha256=" + sign(body).slice("sha256=".length).toUpperCase());
    expect(r.status).toBe(200);
  });

  test("a missing, malformed or wrong signature is 401 and records nothing", async () => {
    const t = setup();
    const body = event("doc-1", 5);
    const hex = sign(body).slice("sha256=".length);
    const otherBody = event("doc-1", 6);
    const cases: Array<[string, string | null]> = [
      ["missing", null],
      ["empty", ""],
      ["no prefix", hex],
      ["other algorithm prefix", `sha1=${hex}`],
      ["truncated", `sha256=${hex.slice(0, 62)}`],
      ["not hex", `sha256=${"z".repeat(64)}`],
      ["another key (PARTYKIT_SECRET while COLLAB_WEBHOOK_SECRET is set)", sign(body, PARTYKIT_SECRET)],
      ["another body", sign(otherBody)],
      ["one bit off", `sha256=${hex.slice(0, 63)}${((parseInt(hex[63], 16) ^ 1) & 0xf).toString(16)}`],
    ];
    for (const [name, signature] of cases) {
      const r = await deliver(t, body, signature);
      expect(r.status, name).toBe(401);
      expect(r.headers.get("Content-Type")).toBe("application/json");
      expect(await r.json(), name).toEqual({ error: "bad_signature", message: expect.any(String) });
    }
    // a body changed after signing
    const tampered = await deliver(t, body.replace('"updates":5', '"updates":9'), sign(body));
    expect(tampered.status).toBe(401);
    expect(await rows(t)).toEqual([]);
  });

  test("PARTYKIT_SECRET is never the key: without COLLAB_WEBHOOK_SECRET the deployment answers 500 not_configured", async () => {
    vi.stubEnv("COLLAB_WEBHOOK_SECRET", undefined);
    const t = setup();
    const body = event("doc-p", 1);
    const r = await deliver(t, body, sign(body, PARTYKIT_SECRET));
    expect(r.status).toBe(500);
    expect(await r.json()).toMatchObject({ error: "not_configured" });
    expect(await rows(t)).toEqual([]);
  });

  test("without either secret the deployment answers 500 not_configured, even for a signed event", async () => {
    vi.stubEnv("COLLAB_WEBHOOK_SECRET", undefined);
    vi.stubEnv("PARTYKIT_SECRET", undefined);
    const t = setup();
    const body = event("doc-n", 1);
    const r = await deliver(t, body, sign(body, ""));
    expect(r.status).toBe(500);
    expect(await r.json()).toMatchObject({ error: "not_configured" });
    expect(await rows(t)).toEqual([]);
  });

  test("a retried delivery (same id) is acknowledged as a duplicate and recorded once", async () => {
    const t = setup();
    const body = event("doc-d", 7);
    expect(await (await deliver(t, body)).json()).toEqual({ ok: true, duplicate: false });
    const first = await rows(t);

    // a retry is the same state, sent again later (a new timestamp, the same id)
    const retry = event("doc-d", 7, "2026-12-01T20:00:05Z");
    const r = await deliver(t, retry);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true, duplicate: true });
    expect(await rows(t)).toEqual(first);
  });

  test("concurrent deliveries of one event: exactly one is new", async () => {
    const t = setup();
    const body = event("doc-c", 3);
    const answers = await Promise.all([deliver(t, body), deliver(t, body), deliver(t, body)]);
    const json = await Promise.all(answers.map((r) => r.json()));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(json.filter((b) => b.duplicate === false)).toHaveLength(1);
    expect(json.filter((b) => b.duplicate === true)).toHaveLength(2);
    expect(await rows(t)).toHaveLength(1);
  });

  test("an older event after a newer one is acknowledged and ignored; a newer one replaces", async () => {
    const t = setup();
    expect((await deliver(t, event("doc-o", 42, "2026-12-01T20:00:10Z"))).status).toBe(200);
    const newest = await rows(t);

    // 41 landed late (e.g. its first attempt timed out at the server, then arrived)
    const late = await deliver(t, event("doc-o", 41, "2026-12-01T20:00:02Z"));
    expect(late.status).toBe(200);
    expect(await late.json()).toEqual({ ok: true, duplicate: false, ignored: "stale" });
    expect(await rows(t)).toEqual(newest);

    const next = await deliver(t, event("doc-o", 43, "2026-12-01T20:00:20Z"));
    expect(await next.json()).toEqual({ ok: true, duplicate: false });
    const after = await rows(t);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ roomId: "doc-o", updates: 43, lastEventId: "doc-o:43", notifiedAt: Date.parse("2026-12-01T20:00:20Z") });
  });

  test("rooms are recorded independently", async () => {
    const t = setup();
    await deliver(t, event("doc-a", 10));
    await deliver(t, event("doc-b", 2));
    expect(await (await deliver(t, event("doc-b", 3))).json()).toEqual({ ok: true, duplicate: false });
    const byRoom = Object.fromEntries((await rows(t)).map((r) => [r.roomId, r.updates]));
    expect(byRoom).toEqual({ "doc-a": 10, "doc-b": 3 });
  });

  test("a signed body that is not the expected JSON is 400 and records nothing", async () => {
    const t = setup();
    const valid = JSON.parse(event("doc-m", 1));
    const bodies: Array<[string, string | Uint8Array<ArrayBuffer>]> = [
      ["not JSON", "{not json"],
      ["empty", ""],
      ["truncated", event("doc-m", 1).slice(0, 40)],
      ["not UTF-8", Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x7d])],
      ["an array", JSON.stringify([valid])],
      ["null", "null"],
      ["no event", JSON.stringify({ ...valid, event: undefined })],
      ["no id", JSON.stringify({ ...valid, id: undefined })],
      ["empty roomId", JSON.stringify({ ...valid, roomId: "" })],
      ["updates a string", JSON.stringify({ ...valid, updates: "1" })],
      ["updates negative", JSON.stringify({ ...valid, updates: -1 })],
      ["updates fractional", JSON.stringify({ ...valid, updates: 1.5 })],
      ["stateVector not base64", JSON.stringify({ ...valid, stateVector: "%%%" })],
      ["no timestamp", JSON.stringify({ ...valid, timestamp: undefined })],
      ["timestamp not ISO", JSON.stringify({ ...valid, timestamp: "yesterday" })],
      ["timestamp not UTC", JSON.stringify({ ...valid, timestamp: "2026-12-01T20:00:00+01:00" })],
    ];
    for (const [name, body] of bodies) {
      const r = await deliver(t, body, sign(body));
      expect(r.status, name).toBe(400);
      expect(await r.json(), name).toEqual({ error: "bad_request", message: expect.any(String) });
    }
    expect(await rows(t)).toEqual([]);
  });

  test("a signed event of another type is acknowledged and ignored (not retried forever)", async () => {
    const t = setup();
    const body = JSON.stringify({ event: "document.deleted", id: "doc-x:9", roomId: "doc-x" });
    const r = await deliver(t, body);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true, duplicate: false, ignored: "unknown_event" });
    expect(await rows(t)).toEqual([]);
  });

  test("the signature is checked before the body is parsed: unsigned garbage is 401, not 400", async () => {
    const t = setup();
    const r = await deliver(t, "{not json", null);
    expect(r.status).toBe(401);
  });
});
