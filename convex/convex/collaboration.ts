import { v } from "convex/values";
import { internal } from "./_generated/api";
import { ActionCtx, internalMutation, internalQuery } from "./_generated/server";

/**
 * Who may open which collaboration room: the logic behind `POST /collaboration/verify`.
 *
 * The collaboration server asks this deployment once per connection (it caches the answer for a
 * short while) with the token the client sent (`?token=`, a YPartyKitProvider `params.token`, or
 * `Authorization: Bearer`) and the room the client wants.
 */

export type Access = "write" | "read";

/** What a token grants in a room. */
export type Grant = { userId: string; access: Access };

/**
 * The answer of {@link authorize}:
 * - a {@link Grant}: the client may connect (`access: "read"` makes it a read-only connection);
 * - `null`: the token is unknown, invalid or expired (HTTP 401; the client should get a new token);
 * - `"forbidden"`: the token is valid but its user has no access to this room (HTTP 403).
 */
export type Verdict = Grant | null | "forbidden";

/**
 * ============================== HOOK: your app's permission check ==============================
 *
 * Replace the body of this function with your app's own check. It runs inside the HTTP action,
 * so it may use `ctx.runQuery` / `ctx.runMutation` to read your tables and `fetch` to call out
 * (e.g. for a JWKS). Typical replacements:
 *
 * - Clerk / Auth0 / any OIDC provider: verify the JWT the client sends as its token (signature
 *   against the provider's JWKS with `crypto.subtle`, `iss`, `aud`, `exp`), take `sub` as the
 *   user id, then look up that user's role on the document `roomId` in your own tables.
 * - Convex Auth: let the client send its Convex Auth JWT and verify it the same way, or keep the
 *   token table below and have a public mutation (called by a signed-in user) issue short-lived
 *   tokens after checking `ctx.auth.getUserIdentity()` against the document's members.
 *
 * Keep the contract: return `null` for a bad token, `"forbidden"` for a good token without access
 * to the room, and never throw for an ordinary rejection (a throw becomes HTTP 500, which the
 * collaboration server reports to the client as "auth unavailable").
 *
 * The default below is safe and self-contained: only tokens listed in the `collabTokens` table
 * are accepted, each for exactly the rooms (or room id prefixes) it names, until it expires.
 * ===============================================================================================
 */
export async function authorize(ctx: ActionCtx, token: string, roomId: string): Promise<Verdict> {
  return await ctx.runQuery(internal.collaboration.checkToken, { token, roomId });
}

const verdict = v.union(
  v.null(),
  v.literal("forbidden"),
  v.object({ userId: v.string(), access: v.union(v.literal("write"), v.literal("read")) }),
);

/** The default hook's table lookup. */
export const checkToken = internalQuery({
  args: { token: v.string(), roomId: v.string() },
  returns: verdict,
  handler: async (ctx, { token, roomId }): Promise<Verdict> => {
    if (token === "") return null;
    const row = await ctx.db
      .query("collabTokens")
      .withIndex("by_token", (q) => q.eq("token", token))
      .first();
    if (row === null) return null;
    if (row.expiresAt !== undefined && row.expiresAt <= Date.now()) return null;
    const allowed =
      (row.rooms ?? []).includes(roomId) ||
      (row.roomPrefixes ?? []).some((prefix) => prefix !== "" && roomId.startsWith(prefix));
    return allowed ? { userId: row.userId, access: row.access } : "forbidden";
  },
});

/**
 * Issues a token for the default hook. Internal: call it from your own mutation after checking
 * who the caller is, or from the CLI, e.g.
 * `npx convex run collaboration:createToken '{"userId":"u1","access":"write","rooms":["doc-1"]}'`.
 * Without `token` a random one (128 bits, hex) is generated. Returns the token.
 */
export const createToken = internalMutation({
  args: {
    token: v.optional(v.string()),
    userId: v.string(),
    access: v.union(v.literal("write"), v.literal("read")),
    rooms: v.optional(v.array(v.string())),
    roomPrefixes: v.optional(v.array(v.string())),
    expiresAt: v.optional(v.number()),
  },
  returns: v.string(),
  handler: async (ctx, args) => {
    const token = args.token ?? randomToken();
    if (token === "") throw new Error("token must not be empty");
    const existing = await ctx.db
      .query("collabTokens")
      .withIndex("by_token", (q) => q.eq("token", token))
      .first();
    if (existing !== null) throw new Error("token already exists");
    await ctx.db.insert("collabTokens", { ...args, token });
    return token;
  },
});

/** Revokes a token of the default hook. Returns whether it existed. */
export const revokeToken = internalMutation({
  args: { token: v.string() },
  returns: v.boolean(),
  handler: async (ctx, { token }) => {
    const rows = await ctx.db
      .query("collabTokens")
      .withIndex("by_token", (q) => q.eq("token", token))
      .collect();
    for (const row of rows) await ctx.db.delete(row._id);
    return rows.length > 0;
  },
});

function randomToken(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
