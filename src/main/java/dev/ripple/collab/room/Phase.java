package dev.ripple.collab.room;

/** Where a room incarnation is in its life; not persisted (each incarnation starts anew). */
enum Phase {
  /** A new room loads its backup before it answers anyone: commands other than its lifecycle's wait. */
  LOADING,
  /** Serving its connections (also while a failed load is retried: clients may edit, nothing is saved). */
  SERVING,
  /** Sharding asked it to stop and its sessions were told to rejoin: it stops once they have left. */
  STOPPING
}
