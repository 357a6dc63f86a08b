// The real providers on 127.0.0.1, bounded waits, and a raw socket that records what a room sends.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import YPartyKitProvider from 'y-partykit/provider'
import WebSocket from 'ws'
import * as decoding from 'lib0/decoding'

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls cond every 25 ms until it holds; throws with `what` after ms. */
export const until = async (cond, what, ms = 20_000) => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (cond()) return
    await sleep(25)
  }
  if (!cond()) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

/** Both providers, by name; each is created with the options the project's e2e scripts use. */
export const providers = {
  partykit: (host, room, doc, opts = {}) =>
    new YPartyKitProvider(host, room, doc, { WebSocketPolyfill: WebSocket, protocol: 'ws', disableBc: true, ...opts }),
  websocket: (host, room, doc, opts = {}) =>
    new WebsocketProvider(`ws://${host}`, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true, ...opts })
}

let rooms = 0
/** A room id the server accepts, new for each call. */
export const newRoom = () => `doc-saved-${process.pid}-${Date.now().toString(36)}-${++rooms}`

/**
 * What a fresh client reads from the room once synced: the text 't' and the map 'm' as JSON.
 * Its provider and doc are destroyed after (a doc's awareness keeps an interval until the doc goes).
 */
export const readRoom = async (host, room) => {
  const doc = new Y.Doc()
  const p = providers.websocket(host, room, doc)
  try {
    await until(() => p.synced, `a fresh client to sync with ${room}`)
    return { text: doc.getText('t').toString(), map: doc.getMap('m').toJSON() }
  } finally {
    p.destroy()
    doc.destroy()
  }
}

/**
 * A plain WebSocket on the room's y-websocket route that records the message type of everything it
 * receives; `send` sends raw bytes.
 */
export const rawClient = async (host, room) => {
  const ws = new WebSocket(`ws://${host}/${room}`)
  ws.binaryType = 'arraybuffer'
  const types = []
  ws.on('message', (data, isBinary) => {
    types.push(isBinary ? decoding.readVarUint(decoding.createDecoder(new Uint8Array(data))) : 'text')
  })
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  return {
    ws,
    types,
    send: (bytes) => ws.send(bytes),
    close: () => ws.close()
  }
}

/** Records console.error / console.warn calls while fn(seen) runs, and returns them. */
export const consoleDuring = async (fn) => {
  const seen = []
  const { error, warn } = console
  console.error = (...args) => { seen.push(args.join(' ')) }
  console.warn = (...args) => { seen.push(args.join(' ')) }
  try {
    await fn(seen)
  } finally {
    console.error = error
    console.warn = warn
  }
  return seen
}
