// The tracker's own rules, on a stand-in provider (no server): which answers count, permission
// denied, one tracker per provider, destroy, and the beforeunload warning.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import { ObservableV2 } from 'lib0/observable'
import { trackSaved, encodeSavedRequest, messageSaved } from '../index.js'

/** A socket that records what is sent on it. */
const socket = () => ({ readyState: 1, sent: [], send (bytes) { this.sent.push(bytes) } })

/** The parts of a y-websocket provider the tracker uses; receive() reads a message as the providers do. */
class StandInProvider extends ObservableV2 {
  constructor (doc) {
    super()
    this.doc = doc
    this.ws = socket()
    this.wsconnected = true
    this._synced = true
    this.denied = []
    this.messageHandlers = []
    this.messageHandlers[2] = (_encoder, decoder) => { this.denied.push(decoding.readVarUint(decoder)) }
  }

  get synced () { return this._synced }
  set synced (state) {
    this._synced = state
    this.emit('sync', [state])
  }

  receive (bytes) {
    const decoder = decoding.createDecoder(bytes)
    const type = decoding.readVarUint(decoder)
    const handler = this.messageHandlers[type]
    if (!handler) throw new Error(`no handler for ${type}`)
    handler(encoding.createEncoder(), decoder, this, true, type)
  }

  /** The connection drops and a new one syncs. */
  reconnect () {
    this.synced = false
    this.ws = socket()
    this.synced = true
  }
}

const requests = (ws) => ws.sent.map((b) => decoding.readVarUint(decoding.createDecoder(b.subarray(2))))
const settle = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms))

const setup = () => {
  const doc = new Y.Doc()
  const provider = new StandInProvider(doc)
  const saved = trackSaved(provider, { debounceMs: 0 })
  return { doc, provider, saved }
}

test('a request is [102, varUint8Array(varUint counter)]', () => {
  assert.deepEqual(encodeSavedRequest(1), Uint8Array.of(102, 1, 1))
  assert.deepEqual(encodeSavedRequest(300), Uint8Array.of(102, 2, 0xac, 0x02))
})

test('only the answer to the newest request on the current socket means saved', async () => {
  const { doc, provider, saved } = setup()
  doc.getText('t').insert(0, 'a')
  await settle()
  doc.getText('t').insert(0, 'b')
  await settle()
  assert.deepEqual(requests(provider.ws), [1, 2])
  provider.receive(encodeSavedRequest(1)) // covers 'a' only
  assert.equal(saved.hasUnsavedChanges, true)
  provider.receive(Uint8Array.of(messageSaved, 2, 2, 0)) // not one varUint: ignored
  provider.receive(Uint8Array.of(messageSaved, 5, 1)) // a payload longer than the message: ignored
  assert.equal(saved.hasUnsavedChanges, true)
  provider.receive(encodeSavedRequest(2))
  assert.equal(saved.hasUnsavedChanges, false)
  saved.destroy()
})

test('a request waits for sync; a connection lost before the answer gets a fresh request after the next sync', async () => {
  const { doc, provider, saved } = setup()
  provider.synced = false
  doc.getText('t').insert(0, 'a')
  await settle()
  assert.equal(provider.ws.sent.length, 0, 'nothing is asked before the provider is synced')
  provider.synced = true
  await settle()
  assert.deepEqual(requests(provider.ws), [1])
  const old = provider.ws
  provider.reconnect()
  await settle()
  assert.deepEqual(requests(provider.ws), [2])
  provider.ws = old
  provider.receive(encodeSavedRequest(1)) // a late answer on the old socket (not the newest request): ignored
  assert.equal(saved.hasUnsavedChanges, true)
  saved.destroy()
})

test('answers on a connection that was refused permission do not mean saved; a later writable connection does', async () => {
  const { doc, provider, saved } = setup()
  doc.getText('t').insert(0, 'a')
  await settle()
  const denied = encoding.createEncoder()
  encoding.writeVarUint(denied, 2)
  encoding.writeVarUint(denied, 0)
  encoding.writeVarString(denied, 'read-only connection: updates are not applied')
  provider.receive(encoding.toUint8Array(denied))
  assert.deepEqual(provider.denied, [0], "the provider's own auth handler still runs")
  provider.receive(encodeSavedRequest(1))
  assert.equal(saved.hasUnsavedChanges, true)
  provider.reconnect()
  await settle()
  assert.deepEqual(requests(provider.ws), [2])
  provider.receive(encodeSavedRequest(2))
  assert.equal(saved.hasUnsavedChanges, false)
  saved.destroy()
})

test("remote changes (origin: the provider) are not local changes", async () => {
  const { doc, provider, saved } = setup()
  const other = new Y.Doc()
  other.getText('t').insert(0, 'remote')
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(other), provider)
  await settle()
  assert.equal(saved.hasUnsavedChanges, false)
  assert.equal(provider.ws.sent.length, 0)
  saved.destroy()
})

test('a provider has one tracker at a time; destroy puts its handlers back and stops tracking', async () => {
  const doc = new Y.Doc()
  const provider = new StandInProvider(doc)
  const auth = provider.messageHandlers[2]
  const saved = trackSaved(provider, { debounceMs: 0 })
  assert.notEqual(provider.messageHandlers[2], auth, 'the auth handler is wrapped')
  assert.throws(() => trackSaved(provider), /already has a saved tracker/)
  saved.destroy()
  assert.equal(provider.messageHandlers[messageSaved], undefined)
  assert.equal(provider.messageHandlers[2], auth)
  trackSaved(provider).destroy() // a new tracker may come after
  doc.getText('t').insert(0, 'after destroy')
  await settle()
  assert.equal(saved.hasUnsavedChanges, false)
  assert.equal(provider.ws.sent.length, 0)
})

test('destroying the doc destroys the tracker', () => {
  const { doc, provider } = setup()
  doc.destroy()
  assert.equal(provider.messageHandlers[messageSaved], undefined)
  trackSaved(provider).destroy()
})

test('warnBeforeUnload asks the user to stay only while unsaved; its remover and destroy take it away', async () => {
  const { doc, provider, saved } = setup()
  const win = new EventTarget() // a window as far as the tracker cares
  const unload = () => {
    const event = new Event('beforeunload', { cancelable: true })
    win.dispatchEvent(event)
    return event.defaultPrevented
  }
  const remove = saved.warnBeforeUnload(win)
  assert.equal(unload(), false, 'nothing unsaved')
  doc.getText('t').insert(0, 'a')
  assert.equal(unload(), true, 'unsaved')
  await settle()
  provider.receive(encodeSavedRequest(1))
  assert.equal(unload(), false, 'saved')
  doc.getText('t').insert(0, 'b')
  remove()
  assert.equal(unload(), false, 'removed')

  // a plain object with the browser's legacy returnValue
  const listeners = new Set()
  const legacy = { addEventListener: (_t, f) => listeners.add(f), removeEventListener: (_t, f) => listeners.delete(f) }
  saved.warnBeforeUnload(legacy)
  const event = { returnValue: undefined, prevented: false, preventDefault () { this.prevented = true } }
  for (const f of listeners) f(event)
  assert.deepEqual([event.prevented, event.returnValue], [true, true])
  saved.destroy()
  assert.equal(listeners.size, 0, 'destroy removed it')
  assert.throws(() => saved.warnBeforeUnload(undefined), /needs a window/)
})
