import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  /**
   * The newest backup of each collaboration room: one row per room, pointing at a file in Convex
   * file storage that holds the room's full Yjs state (a Yjs v1 update). Written only by the
   * collaboration server through `POST /collaboration/snapshot`.
   */
  snapshots: defineTable({
    roomId: v.string(),
    storageId: v.id("_storage"),
    /** Milliseconds since the epoch of the last save. */
    updatedAt: v.number(),
    /** Size of the stored state in bytes. */
    size: v.number(),
    /**
     * How many journaled updates of the room the stored state covers (the server's count). A save
     * with a lower count is older and is ignored. Absent on rows stored before the count existed: 0.
     */
    updates: v.optional(v.number()),
  }).index("by_roomId", ["roomId"]),

  /**
   * The default authorization hook's grants (see `collaboration.ts`). An app that checks its own
   * users instead (Clerk, Convex Auth, ...) can drop this table.
   *
   * A row lets `token` open rooms as `userId`: either exactly the listed `rooms`, or every room
   * whose id starts with one of `roomPrefixes`. `expiresAt` (ms since the epoch) is optional.
   */
  collabTokens: defineTable({
    token: v.string(),
    userId: v.string(),
    access: v.union(v.literal("write"), v.literal("read")),
    rooms: v.optional(v.array(v.string())),
    roomPrefixes: v.optional(v.array(v.string())),
    expiresAt: v.optional(v.number()),
  }).index("by_token", ["token"]),

  /**
   * The example webhook receiver's record (see `webhook.ts`): per room, the newest
   * `document.updated` event received. Written only by `POST /ripple/webhook`; an app that
   * replaces the receiver can drop this table.
   */
  roomChanges: defineTable({
    roomId: v.string(),
    /** The room's count of journaled updates in the newest event: events with no more are ignored. */
    updates: v.number(),
    /** The newest event's `id` (`<roomId>:<updates>`): a retried delivery of it is a duplicate. */
    lastEventId: v.string(),
    /** The event's `timestamp` (when the server sent it), ms since the epoch. */
    notifiedAt: v.number(),
    /** When this deployment received it, ms since the epoch. */
    receivedAt: v.number(),
  }).index("by_roomId", ["roomId"]),
});
