// Cluster scenarios with the real clients (y-websocket's WebsocketProvider, y-partykit's
// YPartyKitProvider) against several Ripple nodes on 127.0.0.1, each reached on its own HTTP port
// (as clients behind a load balancer reach whichever node it picks).
// Usage: node e2e-cluster.mjs <scenario> <args...>; prints one JSON line and exits 0 when the
// scenario's expectations hold, 1 (with the reason) when they do not. Every wait is bounded.
//
//   converge <portA> <portB> <room>            providers on two nodes edit one room and converge
//   fill <port> <prefix> <count> [holdSeconds] writes "text <prefix>-<i>" into rooms <prefix>-0..count-1;
//                                              with holdSeconds, keeps one raw socket per room open
//                                              (so the rooms stay alive), prints "ready", and waits
//                                              until SIGTERM or holdSeconds
//   check <port> <prefix> <count>              a fresh client per room reads "text <prefix>-<i>"
//   large <portA> <portB> <room>               a 2 MB update (y-pk-batch chunks) written via node A reaches
//                                              a client on node B, and a newcomer on B syncs the whole room:
//                                              at least one of the two hops crosses nodes
//   digest <port> <room,room,...>              a fresh client per room prints a digest of its content (text,
//                                              map, the arrays "log" and "list"): equal digests, equal documents
//   moved <portB> <portC> <room>               raw socket + providers on node B; prints "ready"; one
//                                              provider types while the node hosting the room leaves
//                                              (stdin says 'moved' when it has): no socket closes, no
//                                              provider reconnects, everyone converges, and a fresh
//                                              client on node C reads it all
import * as Y from 'yjs'
import WebSocket from 'ws'
import { createHash } from 'node:crypto'
import { sleep, until, partyKit, websocket, synced, reporter, editAndConverge, newDocs } from '../lib/clients.mjs'

const [, , scenario, ...args] = process.argv
// every provider adds a process 'exit' listener: many rooms in one process are expected here
process.setMaxListeners(0)

const host = (port) => `127.0.0.1:${Number(port)}`
const pk = (port, room, doc, opts) => partyKit(host(port), room, doc, opts)
const yws = (port, room, doc, opts) => websocket(host(port), room, doc, opts)

/** A raw socket on a room (no Yjs client, so it never reconnects); resolves once open, records its close. */
const raw = (port, room) => new Promise((resolve, reject) => {
  const ws = new WebSocket(`ws://${host(port)}/${room}`)
  const s = { ws, room, close: null }
  s.closed = new Promise((r) => ws.on('close', (code, reason) => { s.close = { code, reason: reason.toString() }; r(s.close) }))
  ws.on('open', () => resolve(s))
  ws.on('error', reject)
})

const done = reporter(scenario)

const text = (prefix, i) => `text ${prefix}-${i}`

/** Writes one marker into a room and waits until a second client sees it (the server has journaled it). */
async function writeOne (port, room, marker) {
  const d = new Y.Doc(); const d2 = new Y.Doc()
  const p = yws(port, room, d)
  try {
    if (!(await synced(p))) return false
    d.getText('text').insert(0, marker)
    const p2 = yws(port, room, d2)
    try {
      return await until(() => d2.getText('text').toString() === marker)
    } finally { p2.destroy() }
  } finally { p.destroy() }
}

const scenarios = {
  async converge () {
    const [portA, portB, room = 'doc-cluster-converge'] = args
    const docs = newDocs(4)
    const r = await editAndConverge(docs, [pk(portA, room, docs[0]), yws(portA, room, docs[1]), pk(portB, room, docs[2]), yws(portB, room, docs[3])])
    done(r.ok, r)
  },

  async fill () {
    const [port, prefix, countArg, holdArg] = args
    const count = Number(countArg)
    const holdSeconds = Number(holdArg || 0)
    const rooms = Array.from({ length: count }, (_, i) => `${prefix}-${i}`)
    // the raw sockets first: each room has a connection from now until the end, so it stays alive
    const held = holdSeconds > 0 ? await Promise.all(rooms.map((r) => raw(port, r))) : []
    const written = await Promise.all(rooms.map((r, i) => writeOne(port, r, text(prefix, i))))
    const failed = rooms.filter((_, i) => !written[i])
    if (failed.length > 0) return done(false, { reason: 'not written', failed })
    if (holdSeconds === 0) return done(true, { rooms: count })
    const report = () => done(true, {
      rooms: count,
      closes: Object.fromEntries(held.filter((s) => s.close).map((s) => [s.room, s.close.code]))
    })
    process.on('SIGTERM', report)
    console.log('ready')
    await sleep(holdSeconds * 1000)
    report()
  },

  async check () {
    const [port, prefix, countArg] = args
    const count = Number(countArg)
    const read = async (i) => {
      const d = new Y.Doc()
      const p = pk(port, `${prefix}-${i}`, d)
      const ok = (await synced(p, 30000)) && (await until(() => d.getText('text').toString() === text(prefix, i), 30000))
      p.destroy()
      return ok ? null : { room: `${prefix}-${i}`, text: d.getText('text').toString() }
    }
    const wrong = (await Promise.all(Array.from({ length: count }, (_, i) => read(i)))).filter((x) => x)
    done(wrong.length === 0, { rooms: count, wrong })
  },

  async digest () {
    const [port, list] = args
    const rooms = String(list || '').split(',').filter((r) => r)
    const read = async (room) => {
      const d = new Y.Doc()
      const p = yws(port, room, d)
      const ok = await synced(p, 30000)
      p.destroy()
      if (!ok) return [room, null]
      const view = JSON.stringify([d.getText('text').toString(), d.getArray('log').toJSON(), d.getArray('list').toJSON(),
        Object.entries(d.getMap('map').toJSON()).sort(([a], [b]) => a.localeCompare(b))])
      return [room, { sha256: createHash('sha256').update(view).digest('hex'), text: d.getText('text').length, log: d.getArray('log').length }]
    }
    const digests = Object.fromEntries(await Promise.all(rooms.map(read)))
    const unsynced = rooms.filter((r) => digests[r] === null)
    done(rooms.length > 0 && unsynced.length === 0, { rooms: rooms.length, unsynced, digests })
  },

  async large () {
    const [portA, portB, room = 'doc-cluster-large'] = args
    const a = new Y.Doc(); const b = new Y.Doc()
    const pa = pk(portA, room, a); const pb = yws(portB, room, b)
    if (!(await synced(pa)) || !(await synced(pb))) return done(false, { reason: 'never synced' })
    const big = 'x'.repeat(2 * 1024 * 1024)
    a.getText('text').insert(0, big)
    const received = await until(() => b.getText('text').length === big.length, 20000)
    const c = new Y.Doc()
    const pc = yws(portB, room, c, { connect: received })
    const newcomer = received && (await synced(pc, 20000)) && (await until(() => c.getText('text').length === big.length, 20000))
    pa.destroy(); pb.destroy(); pc.destroy()
    done(received && newcomer, { received: b.getText('text').length, newcomer: c.getText('text').length })
  },

  async moved () {
    const [portB, portC, room] = args
    const socket = await raw(portB, room)
    const a = new Y.Doc(); const b = new Y.Doc()
    const pa = pk(portB, room, a); const pb = yws(portB, room, b)
    if (!(await synced(pa)) || !(await synced(pb))) return done(false, { reason: 'never synced' })
    a.getText('text').insert(0, 'before|')
    if (!(await until(() => b.getText('text').toString() === 'before|'))) return done(false, { reason: 'no convergence before the move' })
    const disconnects = [0, 0]
    pa.on('status', (e) => { if (e.status === 'disconnected') disconnects[0]++ })
    pb.on('status', (e) => { if (e.status === 'disconnected') disconnects[1]++ })
    const closes = []
    for (const p of [pa, pb]) p.on('connection-close', (e) => closes.push({ code: e && e.code, reason: e && String(e.reason), at: Date.now() - t0 }))
    const t0 = Date.now()
    // the test writes 'moved' to stdin once the node hosting the room has left
    let moved = false
    process.stdin.on('data', (d) => { if (String(d).includes('moved')) moved = true })
    console.log('ready')
    // a types all through the move, and 20 more edits after it (bounded: 60 s of 50 ms steps)
    let typed = 0; let after = 0
    for (let step = 0; step < 1200 && after < 20; step++) {
      a.getMap('typed').set('k' + typed, typed)
      typed++
      if (moved) after++
      await sleep(50)
    }
    if (!moved) return done(false, { reason: 'the test never said the node had left', typed })
    b.getText('text').insert(b.getText('text').length, 'after')
    const expected = 'before|after'
    const complete = (d) => d.getText('text').toString() === expected && d.getMap('typed').size === typed
    const converged = await until(() => complete(a) && complete(b))
    // a fresh client on another node reads everything, from the room's new home
    const c = new Y.Doc()
    const pc = pk(portC, room, c)
    const fresh = (await synced(pc)) && (await until(() => complete(c)))
    const kept = [...disconnects] // before destroy(), which disconnects them
    pa.destroy(); pb.destroy(); pc.destroy()
    // the room moved under its connections: they stayed open (no close, no reconnect) and lost nothing
    done(socket.close === null && kept.every((n) => n === 0) && converged && fresh,
      { close: socket.close, disconnects: kept, closes, typed, seen: [a.getMap('typed').size, b.getMap('typed').size, c.getMap('typed').size],
        a: a.getText('text').toString(), fresh: c.getText('text').toString() })
  }
}

const run = scenarios[scenario]
if (!run) done(false, { reason: 'unknown scenario ' + scenario })
// fill's hold bounds itself; everything else ends within 150 s
const holdBound = scenario === 'fill' ? Number(args[3] || 0) * 1000 : 0
const timer = setTimeout(() => done(false, { reason: 'scenario timed out' }), 150000 + holdBound)
timer.unref()
run().catch((e) => done(false, { reason: String(e && e.stack || e) }))
