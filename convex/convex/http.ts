import { httpRouter } from "convex/server";
import { internal } from "./_generated/api";
import { ActionCtx, httpAction } from "./_generated/server";
import { authorize } from "./collaboration";
import { receive as receiveWebhook } from "./webhook";

/**
 * The HTTP actions the collaboration server (Ripple) calls, at `https://<deployment>.convex.site`:
 *
 * - `POST /collaboration/snapshot?roomId=<urlencoded>&updates=<N>`, body = the room's full Yjs
 *   state (`application/octet-stream`) covering the room's first N journaled updates: stores it
 *   unless the stored snapshot covers more (an older save that landed late); 200
 *   `{"ok":true,"stored":true|false,"updates":<N kept>,...}`.
 * - `GET  /collaboration/snapshot?roomId=<urlencoded>`: 200 with the stored bytes and the count
 *   they cover in the header `X-Ripple-Updates` (0 for snapshots stored before it existed); if none, 404
 *   `application/json` `{"error":"not_found","message":..}`. The server takes any 404 for "no
 *   snapshot" (a new document) except Convex's own `No matching routes found` (a deployment without
 *   these routes), which fails the load.
 * - `POST /collaboration/verify`, body `{"token":..,"roomId":..}`: 200 `{"userId":..,"access":..}`,
 *   401 unknown/invalid token, 403 no access to the room.
 *
 * Every request must carry `Authorization: Bearer <PARTYKIT_SECRET>` (else 401). Errors are JSON
 * `{"error":..,"message":..}`.
 *
 * Also here, the other direction: `POST /ripple/webhook`, an example receiver for the server's
 * signed change notifications (`webhook.ts`; its own signature check instead of the bearer secret).
 */

/** The largest roomId accepted (UTF-16 code units); the collaboration server's ids are far shorter. */
const MAX_ROOM_ID = 512;

/** The GET answer's header with the count of updates the snapshot covers. */
const UPDATES_HEADER = "X-Ripple-Updates";

const http = httpRouter();

http.route({
  path: "/collaboration/snapshot",
  method: "POST",
  handler: httpAction(async (ctx, request) =>
    guarded(request, "application/octet-stream", async () => {
      const roomId = roomIdOf(request);
      if (roomId === null) return badRoomId();
      const updates = updatesOf(request);
      if (updates === null) {
        return error(400, "bad_updates", "updates (the count of updates the snapshot covers) is missing or not an integer >= 0");
      }
      const bytes = await request.arrayBuffer();
      if (bytes.byteLength === 0) return error(400, "empty_snapshot", "the snapshot body is empty");
      const storageId = await ctx.storage.store(new Blob([bytes], { type: "application/octet-stream" }));
      let saved;
      try {
        saved = await ctx.runMutation(internal.snapshots.save, { roomId, storageId, size: bytes.byteLength, updates });
      } catch (e) {
        await ctx.storage.delete(storageId); // do not leave an orphan file behind
        throw e;
      }
      if (!saved.stored) {
        // an older save than the stored one: acknowledged (the newer state is safe), not stored
        return json(200, { ok: true, stored: false, roomId, updates: saved.updates, updatedAt: saved.updatedAt });
      }
      return json(200, { ok: true, stored: true, roomId, size: bytes.byteLength, updates, updatedAt: saved.updatedAt });
    }),
  ),
});

http.route({
  path: "/collaboration/snapshot",
  method: "GET",
  handler: httpAction(async (ctx, request) =>
    guarded(request, null, async () => {
      const roomId = roomIdOf(request);
      if (roomId === null) return badRoomId();
      return await readSnapshot(ctx, roomId);
    }),
  ),
});

http.route({
  path: "/collaboration/verify",
  method: "POST",
  handler: httpAction(async (ctx, request) =>
    guarded(request, "application/json", async () => {
      let body: unknown;
      try {
        body = await request.json();
      } catch {
        return error(400, "bad_request", 'body is not JSON {"token":string,"roomId":string}');
      }
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        return error(400, "bad_request", 'body is not {"token":string,"roomId":string}');
      }
      const { token, roomId } = body as Record<string, unknown>;
      if (typeof token !== "string" || typeof roomId !== "string") {
        return error(400, "bad_request", 'body is not {"token":string,"roomId":string}');
      }
      if (roomId === "" || roomId.length > MAX_ROOM_ID) return badRoomId();
      if (token === "") return error(401, "invalid_token", "token expired or unknown");
      const verdict = await authorize(ctx, token, roomId);
      if (verdict === null) return error(401, "invalid_token", "token expired or unknown");
      if (verdict === "forbidden") return error(403, "forbidden", `no access to room ${roomId}`);
      if (typeof verdict.userId !== "string" || (verdict.access !== "write" && verdict.access !== "read")) {
        throw new Error("authorize() returned an invalid grant");
      }
      return json(200, { userId: verdict.userId, access: verdict.access });
    }),
  ),
});

// the server's change notifications (COLLAB_WEBHOOK_URL=https://<deployment>.convex.site/ripple/webhook)
http.route({
  path: "/ripple/webhook",
  method: "POST",
  handler: receiveWebhook,
});

export default http;

/**
 * The stored file of the room's newest snapshot. A save that lands between reading the row and
 * reading the file deletes that file, so the row is read again (a few times at most).
 */
async function readSnapshot(ctx: ActionCtx, roomId: string): Promise<Response> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const row = await ctx.runQuery(internal.snapshots.get, { roomId });
    // the contract's one "no snapshot" answer: keep status, content type and `error` exactly so
    if (row === null) return error(404, "not_found", `no snapshot for room ${roomId}`);
    const blob = await ctx.storage.get(row.storageId);
    if (blob !== null) {
      return new Response(blob, {
        status: 200,
        headers: {
          "Content-Type": "application/octet-stream",
          "Cache-Control": "no-store",
          [UPDATES_HEADER]: String(row.updates ?? 0),
        },
      });
    }
  }
  // the row points at a file that is gone: never answer 404 here, or the server would start the
  // room empty and overwrite the backup
  return error(500, "snapshot_unavailable", `the snapshot file of room ${roomId} is missing`);
}

/**
 * Runs a handler after the shared-secret check (and, for a POST, the Content-Type check); any
 * exception becomes a JSON 500.
 */
async function guarded(
  request: Request,
  contentType: string | null,
  handler: () => Promise<Response>,
): Promise<Response> {
  try {
    const expected = process.env.PARTYKIT_SECRET;
    if (expected === undefined || expected === "") {
      console.error("PARTYKIT_SECRET is not set: run `npx convex env set PARTYKIT_SECRET <secret>`");
      return error(500, "not_configured", "PARTYKIT_SECRET is not set on this deployment");
    }
    const given = bearer(request.headers.get("Authorization"));
    if (given === null || !(await sameSecret(given, expected))) {
      return error(401, "unauthorized", "Authorization is not 'Bearer <PARTYKIT_SECRET>'");
    }
    if (contentType !== null) {
      const type = (request.headers.get("Content-Type") ?? "").split(";")[0].trim().toLowerCase();
      if (type !== contentType) {
        return error(415, "unsupported_media_type", `Content-Type must be ${contentType}`);
      }
    }
    return await handler();
  } catch (e) {
    console.error("collaboration HTTP action failed", e);
    return error(500, "internal", "internal error");
  }
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
function bearer(header: string | null): string | null {
  if (header === null) return null;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match === null ? null : match[1];
}

/**
 * Compares two secrets in time independent of where they differ and of their lengths: both are
 * hashed to 32 bytes first, then every byte is compared.
 */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/** The `roomId` query parameter, or null when it is missing, empty or too long. */
function roomIdOf(request: Request): string | null {
  const roomId = new URL(request.url).searchParams.get("roomId");
  return roomId === null || roomId === "" || roomId.length > MAX_ROOM_ID ? null : roomId;
}

/** The `updates` query parameter (decimal digits, a safe integer), or null when missing or malformed. */
function updatesOf(request: Request): number | null {
  const raw = new URL(request.url).searchParams.get("updates");
  if (raw === null || !/^[0-9]{1,16}$/.test(raw)) return null;
  const updates = Number(raw);
  return Number.isSafeInteger(updates) ? updates : null;
}

function badRoomId(): Response {
  return error(400, "bad_room_id", `roomId is missing, empty or longer than ${MAX_ROOM_ID}`);
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
