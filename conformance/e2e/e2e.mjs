// End-to-end scenarios with the real clients (y-websocket's WebsocketProvider, y-partykit's
// YPartyKitProvider) against a running Ripple server on 127.0.0.1.
// Usage: node e2e.mjs <scenario> <port> [args...]; prints one JSON line and exits 0 when the
// scenario's expectations hold, 1 (with the reason) when they do not. Every wait is bounded.
import * as Y from 'yjs'
import WebSocket from 'ws'
import { sleep, until, partyKit, websocket, synced, reporter, editAndConverge, newDocs } from '../lib/clients.mjs'

const [, , scenario, portArg, ...rest] = process.argv
const port = Number(portArg)
const host = `127.0.0.1:${port}`

const pk = (room, doc, opts) => partyKit(host, room, doc, opts)
const yws = (room, doc, opts) => websocket(host, room, doc, opts)
const done = reporter(scenario)

const scenarios = {
  /** Two YPartyKitProviders and two WebsocketProviders edit one room and converge. */
  async converge () {
    const room = rest[0] || 'doc-converge'
    const docs = newDocs(4)
    const r = await editAndConverge(docs, [pk(room, docs[0]), pk(room, docs[1]), yws(room, docs[2]), yws(room, docs[3])])
    done(r.ok, r)
  },

  /** Writes a marker text into a room and waits until the server has echoed the sync. */
  async write () {
    const [room, text, token] = rest
    const params = token ? { params: { token } } : {}
    const d = new Y.Doc()
    const p = yws(room, d, params)
    if (!(await synced(p))) return done(false, { reason: 'never synced' })
    d.getText('text').insert(0, text)
    // a second client proves the server holds (and journaled) the update
    const d2 = new Y.Doc()
    const p2 = yws(room, d2, params)
    const ok = await until(() => d2.getText('text').toString() === text)
    p.destroy(); p2.destroy()
    done(ok, { text: d2.getText('text').toString() })
  },

  /** A client that joins (after a restart, or late) receives everything. */
  async read () {
    const [room, expected, token] = rest
    const d = new Y.Doc()
    const p = pk(room, d, token ? { params: { token } } : {})
    const ok = (await synced(p)) && (await until(() => d.getText('text').toString() === expected))
    p.destroy()
    done(ok, { text: d.getText('text').toString() })
  },

  /**
   * A YPartyKitProvider that must stay connected while others misbehave: prints "synced" once it is,
   * then waits for the expected text; fails if its socket ever closed meanwhile (a room that stopped
   * closes it with 1012, and a provider would reconnect and converge all the same).
   */
  async steady () {
    const [room, expected] = rest
    const d = new Y.Doc()
    const p = pk(room, d)
    let disconnects = 0
    const closes = []
    p.on('status', (e) => { if (e.status === 'disconnected') disconnects++ })
    p.on('connection-close', (e) => closes.push(e && e.code))
    if (!(await synced(p))) return done(false, { reason: 'never synced' })
    console.log('synced')
    const ok = await until(() => d.getText('text').toString() === expected, 120000)
    const stayed = disconnects === 0 && p.wsconnected
    p.destroy()
    done(ok && stayed, { text: d.getText('text').toString(), disconnects, closes, ...(ok ? {} : { reason: 'text never arrived' }) })
  },

  /** A lone YPartyKitProvider stays connected past its 30 s awareness timeout (the server echoes awareness). */
  async lone () {
    const seconds = Number(rest[0] || 65)
    const d = new Y.Doc()
    const p = pk('doc-lone', d)
    if (!(await synced(p))) return done(false, { reason: 'never synced' })
    let disconnects = 0
    p.on('status', (e) => { if (e.status === 'disconnected') disconnects++ })
    p.awareness.setLocalStateField('user', { name: 'alone' })
    await sleep(seconds * 1000)
    const ok = disconnects === 0 && p.wsconnected
    p.destroy()
    done(ok, { disconnects, seconds })
  },

  /** A 2 MB update goes through y-pk-batch chunks and reaches another client. */
  async large () {
    const room = 'doc-large'
    const a = new Y.Doc(); const b = new Y.Doc()
    const pa = pk(room, a); const pb = yws(room, b)
    if (!(await synced(pa)) || !(await synced(pb))) return done(false, { reason: 'never synced' })
    const big = 'x'.repeat(2 * 1024 * 1024)
    a.getText('text').insert(0, big)
    const ok = await until(() => b.getText('text').length === big.length, 30000)
    pa.destroy(); pb.destroy()
    done(ok, { received: b.getText('text').length })
  },

  /** A garbage frame closes only the connection that sent it; the room and other clients carry on. */
  async garbage () {
    const room = 'doc-garbage'
    const a = new Y.Doc(); const b = new Y.Doc()
    const pa = yws(room, a); const pb = yws(room, b)
    if (!(await synced(pa)) || !(await synced(pb))) return done(false, { reason: 'never synced' })
    const raw = new WebSocket(`ws://${host}/${room}`)
    const closed = new Promise((resolve) => raw.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    await new Promise((resolve) => raw.on('open', resolve))
    raw.send(Buffer.from([0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f])) // a sync update whose length runs past the frame
    const close = await Promise.race([closed, sleep(10000).then(() => null)])
    a.getText('text').insert(0, 'still works')
    const ok = close !== null && close.code === 1007 && (await until(() => b.getText('text').toString() === 'still works')) && pa.wsconnected && pb.wsconnected
    pa.destroy(); pb.destroy()
    done(ok, { close })
  }
}

/** Connects, says so, and reports the close code the server sends when it shuts down. */
scenarios.shutdown = async () => {
  const d = new Y.Doc()
  const p = yws('doc-shutdown', d, { connect: false })
  const raw = new WebSocket(`ws://${host}/doc-shutdown`)
  const closed = new Promise((resolve) => raw.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  await new Promise((resolve, reject) => { raw.on('open', resolve); raw.on('error', reject) })
  console.log('connected')
  const close = await Promise.race([closed, sleep(60000).then(() => null)])
  p.destroy()
  done(close !== null && close.code === 1012, { close })
}

/** A YPartyKitProvider passing its token in params (as apps do) syncs with a writer on the same room. */
scenarios.token = async () => {
  const [room, token] = rest
  const a = new Y.Doc(); const b = new Y.Doc()
  const pa = pk(room, a, { params: { token } }); const pb = pk(room, b, { params: { token } })
  if (!(await synced(pa)) || !(await synced(pb))) return done(false, { reason: 'never synced' })
  a.getText('text').insert(0, 'authorized edit')
  const ok = await until(() => b.getText('text').toString() === 'authorized edit')
  pa.destroy(); pb.destroy()
  done(ok, { text: b.getText('text').toString() })
}

const run = scenarios[scenario]
if (!run) done(false, { reason: 'unknown scenario ' + scenario })
const timer = setTimeout(() => done(false, { reason: 'scenario timed out' }), 150000)
timer.unref()
run().catch((e) => done(false, { reason: String(e && e.stack || e) }))
