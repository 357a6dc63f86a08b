import { v } from "convex/values";
import { internal } from "./_generated/api";
import { httpAction, internalMutation, internalQuery } from "./_generated/server";

/**
 * An example receiver for the collaboration server's webhooks, at `POST /ripple/webhook` (wired
 * in `http.ts`). Point the server at it with `COLLAB_WEBHOOK_URL=https://<deployment>.convex.site/ripple/webhook`.
 *
 * After a room changes, the server POSTs
 * `{"event":"document.updated","id":"<roomId>:<updates>","roomId":..,"updates":N,"stateVector":"<base64>","timestamp":"<ISO>"}`
 * with `X-Ripple-Signature-256: sha256=<lowercase hex HMAC-SHA256 of the raw body>`, keyed with
 * `COLLAB_WEBHOOK_SECRET` (a key of its own: the server refuses to start without it, and never signs
 * with `PARTYKIT_SECRET`). Delivery is at least once: a retry carries
 * the same `id` (it names the room's state), and a room's events come in increasing `updates`.
 *
 * This receiver verifies the signature over the raw bytes before parsing anything, then records
 * the event in `roomChanges` (one row per room: the newest `updates` notified and when) through
 * `recordChange`, which de-duplicates. Answers (all JSON):
 *
 * - 200 `{"ok":true,"duplicate":false}`: a new event, recorded (your work runs, see `recordChange`);
 * - 200 `{"ok":true,"duplicate":true}`: the event already recorded (a retried delivery);
 * - 200 `{"ok":true,"duplicate":false,"ignored":"stale"}`: older than the room's recorded event
 *   (a delivery that landed late); the newer one already covers its changes;
 * - 200 `{"ok":true,"duplicate":false,"ignored":"unknown_event"}`: a validly signed event of another
 *   type (a newer server), acknowledged so that it is not retried forever;
 * - 401 `{"error":"bad_signature",..}`: the signature header is missing, malformed or wrong;
 * - 400 `{"error":"bad_request",..}`: a signed body that is not the expected JSON;
 * - 500 `{"error":"not_configured",..}`: `COLLAB_WEBHOOK_SECRET` is not set on this deployment.
 *
 * The server retries anything but a 2xx, so answer 2xx once the event is safely recorded, and do
 * slow work (indexing, e-mails, fetching the document) in scheduled functions, not in the request.
 */

const SIGNATURE_HEADER = "X-Ripple-Signature-256";

/** Limits on the fields; the server's are far shorter (roomIds are at most 512 everywhere else here). */
const MAX_ROOM_ID = 512;
const MAX_EVENT_ID = 600;

/** The `document.updated` event, once its signature is verified and its fields are checked. */
type DocumentUpdated = { id: string; roomId: string; updates: number; stateVector: string; notifiedAt: number };

export const receive = httpAction(async (ctx, request) => {
  try {
    const secret = webhookSecret();
    if (secret === null) {
      console.error("COLLAB_WEBHOOK_SECRET is not set: run `npx convex env set COLLAB_WEBHOOK_SECRET <secret>`");
      return error(500, "not_configured", "COLLAB_WEBHOOK_SECRET is not set on this deployment");
    }
    // the raw bytes: the signature covers exactly what was sent, so never verify a re-serialization
    const body = new Uint8Array(await request.arrayBuffer());
    if (!(await signatureMatches(secret, request.headers.get(SIGNATURE_HEADER), body))) {
      return error(401, "bad_signature", `${SIGNATURE_HEADER} is missing or is not sha256=<HMAC-SHA256 of the body>`);
    }

    const parsed = parseEvent(body);
    if (parsed.kind === "bad") return error(400, "bad_request", parsed.message);
    if (parsed.kind === "unknown") return json(200, { ok: true, duplicate: false, ignored: "unknown_event" });

    const outcome = await ctx.runMutation(internal.webhook.recordChange, parsed.event);
    if (outcome === "stale") return json(200, { ok: true, duplicate: false, ignored: "stale" });
    return json(200, { ok: true, duplicate: outcome === "duplicate" });
  } catch (e) {
    // anything unexpected: not a 2xx, so the server retries the event later
    console.error("webhook receiver failed", e);
    return error(500, "internal", "internal error");
  }
});

/**
 * Records a verified `document.updated` event, once: the room's row keeps the newest event's id,
 * `updates` and time. The same id again is a duplicate; an event with no more updates than the
 * recorded one is stale (its changes are covered by the newer event). Both change nothing.
 *
 * A mutation is a transaction: de-duplicating and scheduling your work here, together, runs that
 * work exactly once per new event even when deliveries are retried or arrive concurrently.
 */
export const recordChange = internalMutation({
  args: { id: v.string(), roomId: v.string(), updates: v.number(), stateVector: v.string(), notifiedAt: v.number() },
  returns: v.union(v.literal("new"), v.literal("duplicate"), v.literal("stale")),
  handler: async (ctx, { id, roomId, updates, notifiedAt }) => {
    const existing = await ctx.db
      .query("roomChanges")
      .withIndex("by_roomId", (q) => q.eq("roomId", roomId))
      .unique();
    if (existing !== null) {
      if (existing.lastEventId === id) return "duplicate";
      if (updates <= existing.updates) return "stale";
    }
    const row = { roomId, updates, lastEventId: id, notifiedAt, receivedAt: Date.now() };
    if (existing === null) await ctx.db.insert("roomChanges", row);
    else await ctx.db.patch(existing._id, row);

    // ---- Replace with your app's work. It runs once per new state of the room. ----
    // Schedule your indexing here, e.g.
    //   await ctx.scheduler.runAfter(0, internal.search.reindex, { roomId });
    // The event carries no content: in that function, read the document from the collaboration
    // server's document API (GET /api/rooms/{room}/json) or from the stored snapshot. The event's
    // `stateVector` argument (base64 Yjs state vector) says which changes it covers.
    return "new";
  },
});

/** The room's newest recorded change, or null when none was received. */
export const lastChange = internalQuery({
  args: { roomId: v.string() },
  returns: v.union(
    v.null(),
    v.object({ roomId: v.string(), updates: v.number(), lastEventId: v.string(), notifiedAt: v.number(), receivedAt: v.number() }),
  ),
  handler: async (ctx, { roomId }) => {
    const row = await ctx.db
      .query("roomChanges")
      .withIndex("by_roomId", (q) => q.eq("roomId", roomId))
      .unique();
    if (row === null) return null;
    const { roomId: r, updates, lastEventId, notifiedAt, receivedAt } = row;
    return { roomId: r, updates, lastEventId, notifiedAt, receivedAt };
  },
});

/**
 * The key the server signs with: `COLLAB_WEBHOOK_SECRET` (never `PARTYKIT_SECRET`: the server does
 * not sign with it), stripped of surrounding whitespace like the server does; null when unset or blank.
 */
function webhookSecret(): string | null {
  const secret = (process.env.COLLAB_WEBHOOK_SECRET ?? "").trim();
  return secret === "" ? null : secret;
}

/**
 * Whether `header` is `sha256=<hex>` with the HMAC-SHA256 of `body` under `secret`. Web Crypto's
 * `verify` recomputes the MAC and compares it itself (no early exit on the first differing byte).
 */
async function signatureMatches(secret: string, header: string | null, body: Uint8Array<ArrayBuffer>): Promise<boolean> {
  if (header === null) return false;
  const match = /^\s*sha256=([0-9a-fA-F]{64})\s*$/.exec(header);
  if (match === null) return false;
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return await crypto.subtle.verify("HMAC", key, hexBytes(match[1]), body);
}

/** The bytes of an even-length hex string already checked against [0-9a-fA-F]. */
function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

type Parsed = { kind: "event"; event: DocumentUpdated } | { kind: "unknown" } | { kind: "bad"; message: string };

/**
 * The event in a (verified) body: a checked `document.updated` event, "unknown" for a well-formed
 * event of another type, or "bad" with what is wrong.
 */
function parseEvent(body: Uint8Array<ArrayBuffer>): Parsed {
  const bad = (message: string): Parsed => ({ kind: "bad", message });
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    return bad("body is not UTF-8 JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return bad("body is not a JSON object");
  const { event, id, roomId, updates, stateVector, timestamp } = value as Record<string, unknown>;
  if (typeof event !== "string" || event === "") return bad("event is missing or not a string");
  if (event !== "document.updated") return { kind: "unknown" };
  if (typeof id !== "string" || id === "" || id.length > MAX_EVENT_ID) return bad("id is missing or not a string");
  if (typeof roomId !== "string" || roomId === "" || roomId.length > MAX_ROOM_ID) return bad("roomId is missing or not a string");
  if (typeof updates !== "number" || !Number.isSafeInteger(updates) || updates < 0) return bad("updates is not an integer >= 0");
  if (typeof stateVector !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(stateVector)) return bad("stateVector is not base64");
  const notifiedAt = instantMillis(timestamp);
  if (notifiedAt === null) return bad("timestamp is not an ISO-8601 UTC time like 2026-12-01T20:00:00Z");
  return { kind: "event", event: { id, roomId, updates, stateVector, notifiedAt } };
}

/**
 * Milliseconds since the epoch of a UTC time as Java's `Instant.toString()` writes it
 * (`2026-12-01T20:00:00Z`, with 0 to 9 fraction digits), or null.
 */
function instantMillis(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(value);
  if (match === null) return null;
  const millis = Date.parse(`${match[1]}.${(match[2] ?? "").padEnd(3, "0").slice(0, 3)}Z`);
  return Number.isNaN(millis) ? null : millis;
}

function error(status: number, code: string, message: string): Response {
  return json(status, { error: code, message });
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store" },
  });
}
