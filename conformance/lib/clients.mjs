// Shared by the end-to-end scripts: the real providers on 127.0.0.1, bounded waits, the result line,
// and the four-client convergence check.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import YPartyKitProvider from 'y-partykit/provider'
import WebSocket from 'ws'

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Polls cond every 50 ms until true or the deadline; returns whether it became true. */
export const until = async (cond, ms = 15000) => {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (cond()) return true
    await sleep(50)
  }
  return cond()
}

/** YPartyKitProvider against host ("127.0.0.1:port"). */
export const partyKit = (host, room, doc, opts = {}) =>
  new YPartyKitProvider(host, room, doc, { WebSocketPolyfill: WebSocket, protocol: 'ws', disableBc: true, ...opts })

/** y-websocket's WebsocketProvider against host ("127.0.0.1:port"). */
export const websocket = (host, room, doc, opts = {}) =>
  new WebsocketProvider(`ws://${host}`, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true, ...opts })

export const synced = (p, ms) => until(() => p.synced, ms)

/** Prints the one JSON result line of a scenario and exits 0 (ok) or 1. */
export const reporter = (scenario) => (ok, detail) => {
  console.log(JSON.stringify({ scenario, ok, ...detail }))
  process.exit(ok ? 0 : 1)
}

/**
 * Four docs with their (already created) providers: wait for sync, let each edit text, map and array,
 * and wait until all hold the same content. Returns {ok, reason?, text, keys, same}.
 */
export const editAndConverge = async (docs, providers) => {
  for (const p of providers) if (!(await synced(p))) return { ok: false, reason: 'a provider never synced' }
  docs.forEach((d, i) => {
    for (let k = 0; k < 20; k++) d.getText('text').insert(0, `${i}:${k} `)
    d.getMap('map').set(`client${i}`, { n: i, emoji: '😀' })
    d.getArray('list').push([i])
  })
  let expectedLen = 0
  for (let i = 0; i < docs.length; i++) for (let k = 0; k < 20; k++) expectedLen += `${i}:${k} `.length
  // map key order is each doc's own arrival order, so compare maps by sorted entries
  const view = (d) => JSON.stringify([d.getText('text').toString(), d.getArray('list').toJSON(),
    Object.entries(d.getMap('map').toJSON()).sort(([a], [b]) => a.localeCompare(b))])
  const same = () => docs.every((d) => view(d) === view(docs[0]))
  const ok = await until(() => docs[0].getText('text').length === expectedLen && docs[0].getArray('list').length === docs.length && same())
  providers.forEach((p) => p.destroy())
  return { ok, text: docs[0].getText('text').length, keys: Object.keys(docs[0].getMap('map').toJSON()).length, same: same() }
}

export const newDocs = (n) => Array.from({ length: n }, () => new Y.Doc())
