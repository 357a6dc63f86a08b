import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";

/**
 * The snapshot rows behind `/collaboration/snapshot`. Internal only: the collaboration server
 * reaches them through the HTTP actions in `http.ts`, never directly.
 */

const snapshotRow = v.object({
  _id: v.id("snapshots"),
  _creationTime: v.number(),
  roomId: v.string(),
  storageId: v.id("_storage"),
  updatedAt: v.number(),
  size: v.number(),
  updates: v.optional(v.number()),
});

/** The room's snapshot row, or null when the room was never saved. */
export const get = internalQuery({
  args: { roomId: v.string() },
  returns: v.union(v.null(), snapshotRow),
  handler: async (ctx, { roomId }) => {
    return await ctx.db
      .query("snapshots")
      .withIndex("by_roomId", (q) => q.eq("roomId", roomId))
      .unique();
  },
});

/**
 * Points the room's row at a file already written to storage (inserting the row the first time)
 * and deletes the file the row pointed at before, in one transaction: a room has exactly one
 * stored file once this commits. The newest snapshot wins, not the last to arrive: a save covering
 * fewer updates than the stored one (an older save that timed out at the server and landed late)
 * is not stored, and its file is deleted instead. An equal count is stored (a retried save).
 */
export const save = internalMutation({
  args: { roomId: v.string(), storageId: v.id("_storage"), size: v.number(), updates: v.number() },
  returns: v.object({ stored: v.boolean(), updates: v.number(), updatedAt: v.number(), replaced: v.boolean() }),
  handler: async (ctx, { roomId, storageId, size, updates }) => {
    const updatedAt = Date.now();
    const existing = await ctx.db
      .query("snapshots")
      .withIndex("by_roomId", (q) => q.eq("roomId", roomId))
      .unique();
    if (existing === null) {
      await ctx.db.insert("snapshots", { roomId, storageId, updatedAt, size, updates });
      return { stored: true, updates, updatedAt, replaced: false };
    }
    const kept = existing.updates ?? 0;
    if (updates < kept) {
      if (existing.storageId !== storageId) await ctx.storage.delete(storageId);
      return { stored: false, updates: kept, updatedAt: existing.updatedAt, replaced: false };
    }
    await ctx.db.patch(existing._id, { storageId, updatedAt, size, updates });
    if (existing.storageId !== storageId) {
      await ctx.storage.delete(existing.storageId);
    }
    return { stored: true, updates, updatedAt, replaced: true };
  },
});

/**
 * Forgets a room's snapshot and its file, e.g. when the app deletes the document. Not reachable
 * over HTTP; call it from your own mutation or with `npx convex run snapshots:remove`.
 */
export const remove = internalMutation({
  args: { roomId: v.string() },
  returns: v.boolean(),
  handler: async (ctx, { roomId }) => {
    const existing = await ctx.db
      .query("snapshots")
      .withIndex("by_roomId", (q) => q.eq("roomId", roomId))
      .unique();
    if (existing === null) return false;
    await ctx.db.delete(existing._id);
    await ctx.storage.delete(existing.storageId);
    return true;
  },
});
