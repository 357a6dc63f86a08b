import type { Doc } from 'yjs'
import type { ObservableV2 } from 'lib0/observable'

/** The saved-acknowledgement message type (y-sweet's number). */
export declare const messageSaved: 102

/** The request message for counter `id`: `[102, varUint8Array(varUint id)]`. */
export declare function encodeSavedRequest(id: number): Uint8Array

/** What the tracker uses of a YPartyKitProvider or y-websocket WebsocketProvider. */
export interface SavedProvider {
  doc: Doc
  ws: { readyState: number, send(data: Uint8Array): void } | null
  wsconnected: boolean
  synced: boolean
  messageHandlers: Array<(encoder: any, decoder: any, provider: any, emitSynced: boolean, messageType: number) => void>
  on(name: 'sync', f: (synced: boolean) => void): unknown
  off(name: 'sync', f: (synced: boolean) => void): unknown
}

export interface SavedOptions {
  /** Quiet time after a local change before the server is asked (default 250 ms). */
  debounceMs?: number
}

export type SavedEvents = {
  /** Every local change so far is durable on the server. */
  saved: () => void
  /** A local change is not yet acknowledged. */
  unsaved: () => void
}

/** Tracks whether the local changes of a provider's document are durable on the server. */
export declare class SavedTracker extends ObservableV2<SavedEvents> {
  constructor(provider: SavedProvider, options?: SavedOptions)
  readonly provider: SavedProvider
  readonly doc: Doc
  debounceMs: number
  /** Whether a local change is not yet acknowledged as durable. */
  readonly hasUnsavedChanges: boolean
  /**
   * Installs a `beforeunload` handler on `target` (default: the global `window`) that asks the
   * user to stay while changes are unsaved. Returns a function that removes it.
   */
  warnBeforeUnload(target?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>): () => void
  /** Stops tracking: listeners, message handlers and beforeunload warnings are removed. */
  destroy(): void
}

/** Tracks whether the local changes of the provider's document are durable on the server. */
export declare function trackSaved(provider: SavedProvider, options?: SavedOptions): SavedTracker
