/**
 * @module @ripple/saved
 *
 * Saved acknowledgements for a Yjs provider connected to a Ripple server: tells an application
 * whether every local change is durable on the server.
 *
 * The protocol is one message, y-sweet's number 102: the client sends
 * `[varUint 102, varUint8Array(payload)]` and the server answers with exactly the same bytes once
 * every update that connection sent before it is in the journal. The payload here is a request
 * counter (one varUint), so an answer says which request it closes.
 */

import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { ObservableV2 } from 'lib0/observable'

/** The saved-acknowledgement message type (y-sweet's number). */
export const messageSaved = 102

/** y-protocols' auth message and its only kind, "permission denied". */
const messageAuth = 2
const authPermissionDenied = 0

/** WebSocket's readyState OPEN (a polyfill may not carry the constant). */
const OPEN = 1

/** Providers that already have a tracker: two would both claim message 102. */
const tracked = new WeakSet()

/**
 * The request message for counter `id`: `[102, varUint8Array(varUint id)]`.
 * @param {number} id
 * @return {Uint8Array}
 */
export const encodeSavedRequest = (id) => {
  const payload = encoding.createEncoder()
  encoding.writeVarUint(payload, id)
  const encoder = encoding.createEncoder()
  encoding.writeVarUint(encoder, messageSaved)
  encoding.writeVarUint8Array(encoder, encoding.toUint8Array(payload))
  return encoding.toUint8Array(encoder)
}

/**
 * The counter of an answer whose message type has been read; null when the payload is not one varUint.
 * @param {decoding.Decoder} decoder
 * @return {number | null}
 */
const readSavedAnswer = (decoder) => {
  try {
    const payload = decoding.createDecoder(decoding.readVarUint8Array(decoder))
    const id = decoding.readVarUint(payload)
    return decoding.hasContent(payload) ? null : id
  } catch (_malformed) {
    return null
  }
}

/**
 * The kind of an auth message whose message type has been read, without consuming it; null if malformed.
 * @param {decoding.Decoder} decoder
 * @return {number | null}
 */
const peekAuthType = (decoder) => {
  try {
    return decoding.peekVarUint(decoder)
  } catch (_malformed) {
    return null
  }
}

/**
 * Tracks whether the local changes of `provider.doc` are durable on the server.
 *
 * A local change is an update of the document whose origin is not the provider (the provider sends
 * exactly those). After a change, once the document has been quiet for `debounceMs` and the
 * provider is synced, the tracker sends a saved request on the provider's socket: after the
 * provider itself has sent the change, so the server answers only once the change is journaled.
 * When the connection drops before the answer, a fresh request follows the next sync: the
 * reconnect's sync step 2 has re-sent whatever the server lacked. This relies on the server sending
 * its sync step 1 before answering the client's (Ripple and y-websocket's server do), so the
 * client's answer to it is on the socket before the provider reports `sync`.
 *
 * Events: `saved` (every local change so far is durable) and `unsaved` (a local change is not yet
 * acknowledged), each emitted on the transition.
 *
 * @extends {ObservableV2<{ saved: () => void, unsaved: () => void }>}
 */
export class SavedTracker extends ObservableV2 {
  /**
   * @param {any} provider a YPartyKitProvider or y-websocket WebsocketProvider
   * @param {{ debounceMs?: number }} [options]
   */
  constructor (provider, { debounceMs = 250 } = {}) {
    super()
    if (provider == null || provider.doc == null || !Array.isArray(provider.messageHandlers)) {
      throw new TypeError('@ripple/saved: expected a YPartyKitProvider or WebsocketProvider (with doc and messageHandlers)')
    }
    if (tracked.has(provider)) {
      throw new Error('@ripple/saved: this provider already has a saved tracker; destroy it before creating another')
    }
    tracked.add(provider)
    this.provider = provider
    this.doc = provider.doc
    this.debounceMs = debounceMs
    /** Local changes made so far, and how many of them the server has acknowledged. */
    this._changes = 0
    this._acknowledged = 0
    /** The newest request: its counter, the changes it covers, the socket it went on. */
    this._requestId = 0
    this._requestCovers = 0
    /** @type {any} */
    this._requestSocket = null
    /** A socket on which the server refused our updates (read-only): its answers do not mean saved. */
    this._deniedSocket = null
    /** @type {ReturnType<typeof setTimeout> | null} */
    this._timer = null
    /** @type {Set<() => void>} */
    this._unloadRemovers = new Set()
    this._destroyed = false

    /** @param {Uint8Array} _update @param {any} origin */
    this._onUpdate = (_update, origin) => {
      if (origin === provider) return // the server's (or another tab's) change, not ours
      const wasSaved = !this.hasUnsavedChanges
      this._changes++
      this._schedule(this.debounceMs)
      if (wasSaved) this.emit('unsaved', [])
    }
    /** @param {boolean} isSynced */
    this._onSync = (isSynced) => {
      // after the provider has finished with the message that synced it
      if (isSynced && this.hasUnsavedChanges) this._schedule(0)
    }
    this._onDocDestroy = () => this.destroy()

    this._savedHandler = (_encoder, decoder, _provider, fromSocket, _messageType) => {
      const id = readSavedAnswer(decoder)
      if (fromSocket && id !== null) this._onAnswer(id) // nothing is written: the provider sends no reply
    }
    this._previousSavedHandler = provider.messageHandlers[messageSaved]
    provider.messageHandlers[messageSaved] = this._savedHandler

    const authHandler = provider.messageHandlers[messageAuth]
    this._previousAuthHandler = authHandler
    this._authHandler = (encoder, decoder, p, fromSocket, messageType) => {
      if (fromSocket && peekAuthType(decoder) === authPermissionDenied) this._deniedSocket = provider.ws
      if (authHandler) authHandler(encoder, decoder, p, fromSocket, messageType)
    }
    provider.messageHandlers[messageAuth] = this._authHandler

    this.doc.on('update', this._onUpdate)
    this.doc.on('destroy', this._onDocDestroy)
    provider.on('sync', this._onSync)
  }

  /** Whether a local change is not yet acknowledged as durable. */
  get hasUnsavedChanges () {
    return this._acknowledged < this._changes
  }

  /**
   * Installs a `beforeunload` handler that asks the user to stay while changes are unsaved.
   * @param {any} [target] the window (default: the global `window`)
   * @return {() => void} removes the handler
   */
  warnBeforeUnload (target = globalThis.window) {
    if (target == null || typeof target.addEventListener !== 'function') {
      throw new TypeError('@ripple/saved: warnBeforeUnload needs a window (an object with addEventListener)')
    }
    /** @param {any} event */
    const onBeforeUnload = (event) => {
      if (!this.hasUnsavedChanges) return
      event.preventDefault() // the standard way to ask
      try {
        event.returnValue = true // Chrome and Edge before 119 ask only when it is set
      } catch (_readOnly) {
        // an Event outside a browser (Node's) has a read-only returnValue; preventDefault is enough there
      }
    }
    target.addEventListener('beforeunload', onBeforeUnload)
    const remove = () => {
      target.removeEventListener('beforeunload', onBeforeUnload)
      this._unloadRemovers.delete(remove)
    }
    this._unloadRemovers.add(remove)
    return remove
  }

  /** Stops tracking: listeners, handlers and beforeunload warnings are removed. */
  destroy () {
    if (this._destroyed) return
    this._destroyed = true
    if (this._timer !== null) clearTimeout(this._timer)
    this._timer = null
    this.doc.off('update', this._onUpdate)
    this.doc.off('destroy', this._onDocDestroy)
    this.provider.off('sync', this._onSync)
    const handlers = this.provider.messageHandlers
    if (handlers[messageSaved] === this._savedHandler) handlers[messageSaved] = this._previousSavedHandler
    if (handlers[messageAuth] === this._authHandler) handlers[messageAuth] = this._previousAuthHandler
    for (const remove of [...this._unloadRemovers]) remove()
    tracked.delete(this.provider)
    super.destroy()
  }

  /** @param {number} ms */
  _schedule (ms) {
    if (this._timer !== null) clearTimeout(this._timer)
    this._timer = setTimeout(() => {
      this._timer = null
      this._request()
    }, ms)
  }

  /** Sends a request covering every change so far, unless one is already waiting on this socket. */
  _request () {
    const provider = this.provider
    const ws = provider.ws
    if (!this.hasUnsavedChanges) return
    if (!provider.wsconnected || !provider.synced || ws == null || ws.readyState !== OPEN) return // the next sync asks
    if (this._requestSocket === ws && this._requestCovers === this._changes) return // asked already
    this._requestId++
    this._requestCovers = this._changes
    this._requestSocket = ws
    ws.send(encodeSavedRequest(this._requestId))
  }

  /** @param {number} id */
  _onAnswer (id) {
    const ws = this.provider.ws
    if (id !== this._requestId || ws !== this._requestSocket || ws === this._deniedSocket) return
    if (this._requestCovers <= this._acknowledged) return
    this._acknowledged = this._requestCovers
    if (!this.hasUnsavedChanges) this.emit('saved', [])
  }
}

/**
 * Tracks whether the local changes of the provider's document are durable on the server.
 * @param {any} provider a YPartyKitProvider or y-websocket WebsocketProvider
 * @param {{ debounceMs?: number }} [options]
 * @return {SavedTracker}
 */
export const trackSaved = (provider, options) => new SavedTracker(provider, options)
