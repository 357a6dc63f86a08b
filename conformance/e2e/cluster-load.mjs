// Many real clients editing many rooms of a Ripple cluster through a load balancer, while the test
// that drives this script kills or restarts nodes. Used by the process-level cluster tests.
//
// Usage: node cluster-load.mjs <nodes> <prefix> <rooms> <clientsPerRoom> <intervalMs>
//   nodes: "httpPort,httpPort,..." of the cluster's nodes on 127.0.0.1, or "lb=host:port" for a load
//          balancer that is already in front of them (nginx of docker-compose.yml): no balancer here then
//
// The load balancer is in this process: a TCP proxy on an ephemeral 127.0.0.1 port that sends each
// new connection to the next node (round robin) among those whose GET /ready answered 200 at the
// last health check (every 250 ms), and to the next one when a connect fails: what nginx with
// passive checks or a Kubernetes Service in front of ready pods does. When a node dies, the
// proxied connections to it close, and the clients reconnect through the balancer to a live node.
//
// Every room has clientsPerRoom clients (WebsocketProvider and YPartyKitProvider alternately). Each
// client appends a unique token ("<client>:<n>") to the room's Y.Array "log" and inserts it into its
// Y.Text "text" every intervalMs (with jitter) while it is connected and synced. A token counts as
// acknowledged once another client of the room has received it: the server journals an update
// before it broadcasts it, so an acknowledged token must survive anything.
//
// Commands on stdin, one JSON object per line:
//   {"cmd":"killed","at":<epoch ms>,"rooms":[...]}  a node was killed at "at"; the rooms it hosted are
//                                                   probed with a fresh client each: time until served
//   {"cmd":"finish"}                                stop editing, wait until every room converges, read
//                                                   each room with a fresh client, print the result, exit
// Events on stdout, one JSON object per line: {"event":"ready",...} once every client has synced and
// edited; {"event":"served",...} when every probed room has been served; finally {"event":"result","ok":...}.
// Exits 0 when every check held. Every wait is bounded; the whole run ends within MAX_RUN_MS.
import net from 'node:net'
import http from 'node:http'
import readline from 'node:readline'
import * as Y from 'yjs'
import { sleep, until, partyKit, websocket } from '../lib/clients.mjs'

const [, , nodesArg, prefix = 'load', roomsArg = '12', perRoomArg = '3', intervalArg = '400'] = process.argv
const externalLb = String(nodesArg || '').startsWith('lb=') ? String(nodesArg).slice(3) : null
const ports = externalLb ? [] : String(nodesArg || '').split(',').map(Number).filter((p) => p > 0)
const ROOMS = Number(roomsArg)
const PER_ROOM = Number(perRoomArg)
const INTERVAL_MS = Number(intervalArg)
const MAX_RUN_MS = 15 * 60_000
const CONVERGE_MS = 90_000
const PROBE_MS = 90_000
process.setMaxListeners(0)

const emit = (event, detail = {}) => console.log(JSON.stringify({ event, ...detail }))
const log = (...a) => console.error('[cluster-load]', ...a)

let exiting = false
const finish = (ok, detail) => {
  if (exiting) return
  exiting = true
  emit('result', { ok, ...detail })
  process.exit(ok ? 0 : 1)
}
if ((ports.length === 0 && !externalLb) || !(ROOMS > 0) || !(PER_ROOM >= 2) || !(INTERVAL_MS > 0)) {
  finish(false, { reason: 'usage: node cluster-load.mjs <httpPort,...|lb=host:port> <prefix> <rooms> <clientsPerRoom >= 2> <intervalMs>' })
}
setTimeout(() => finish(false, { reason: `not finished within ${MAX_RUN_MS} ms` }), MAX_RUN_MS).unref()

// ---- load balancer ------------------------------------------------------------------------------
const ready = new Map(ports.map((p) => [p, false]))
const checkHealth = () => Promise.all(ports.map((p) => new Promise((resolve) => {
  const req = http.get({ host: '127.0.0.1', port: p, path: '/ready', timeout: 1000 }, (res) => {
    res.resume()
    ready.set(p, res.statusCode === 200)
    resolve()
  })
  req.on('timeout', () => req.destroy(new Error('timeout')))
  req.on('error', () => { ready.set(p, false); resolve() })
})))
if (!externalLb) {
  await checkHealth()
  setInterval(checkHealth, 250).unref()
}

let next = 0
const lbStats = { connections: 0, refused: 0, perNode: Object.fromEntries(ports.map((p) => [p, 0])) }
const proxy = net.createServer((client) => {
  lbStats.connections++
  client.pause()
  client.on('error', () => {})
  // ready nodes first (round robin), then the others as a last resort
  const start = next++
  const order = ports.map((_, i) => ports[(start + i) % ports.length])
  const candidates = [...order.filter((p) => ready.get(p)), ...order.filter((p) => !ready.get(p))]
  const attempt = (i) => {
    if (client.destroyed) return
    if (i >= candidates.length) { lbStats.refused++; client.destroy(); return }
    const upstream = net.connect({ host: '127.0.0.1', port: candidates[i] })
    upstream.once('error', () => { if (!upstream.connected) attempt(i + 1) })
    upstream.once('connect', () => {
      upstream.connected = true
      lbStats.perNode[candidates[i]]++
      upstream.on('error', () => client.destroy())
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      client.pipe(upstream)
      upstream.pipe(client)
      client.resume()
    })
  }
  attempt(0)
})
let lb = externalLb
if (externalLb) {
  log('clients connect through the load balancer at', lb)
} else {
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  lb = `127.0.0.1:${proxy.address().port}`
  log('load balancer', lb, 'in front of', ports.join(','))
}

// ---- clients ------------------------------------------------------------------------------------
const rooms = Array.from({ length: ROOMS }, (_, i) => `${prefix}-${i}`)
const acked = new Map(rooms.map((r) => [r, new Set()])) // tokens some other client received
const written = new Map(rooms.map((r) => [r, new Set()])) // every token any client wrote
const closeCodes = {}
const clients = []
rooms.forEach((room, r) => {
  for (let c = 0; c < PER_ROOM; c++) {
    const doc = new Y.Doc()
    const kind = c % 2 === 0 ? 'websocket' : 'partykit'
    // y-websocket's default backoff caps at 2.5 s; both providers reconnect by themselves
    const provider = kind === 'websocket' ? websocket(lb, room, doc) : partyKit(lb, room, doc)
    const client = { room, name: `r${r}c${c}`, doc, provider, kind, n: 0, disconnects: 0 }
    // counted until the end, when the script itself closes every client
    provider.on('status', ({ status }) => { if (status === 'disconnected' && !ended) client.disconnects++ })
    provider.on('connection-close', (e) => { if (!ended) { const code = e && e.code; closeCodes[code] = (closeCodes[code] || 0) + 1 } })
    doc.getArray('log').observe((event, tr) => {
      if (tr.local) return
      for (const item of event.changes.added) for (const token of item.content.getContent()) acked.get(room).add(token)
    })
    clients.push(client)
  }
})

let editing = true
let ended = false
const editLoop = async (client) => {
  await sleep(Math.random() * INTERVAL_MS)
  while (editing) {
    if (client.provider.wsconnected && client.provider.synced) {
      const token = `${client.name}:${client.n++}`
      client.doc.transact(() => {
        client.doc.getArray('log').push([token])
        const text = client.doc.getText('text')
        text.insert(Math.floor(Math.random() * (text.length + 1)), token + ' ')
      })
      written.get(client.room).add(token)
    }
    await sleep(INTERVAL_MS * (0.5 + Math.random()))
  }
}

const allSynced = () => clients.every((c) => c.provider.wsconnected && c.provider.synced)
if (!(await until(allSynced, 60_000))) {
  finish(false, { reason: 'not every client synced within 60 s', unsynced: clients.filter((c) => !c.provider.synced).map((c) => c.name) })
}
const loops = clients.map(editLoop)
await until(() => clients.every((c) => c.n >= 2), 30_000)
emit('ready', { lb, rooms: ROOMS, clients: clients.length })

// ---- probes: how long until a killed node's rooms are served again ---------------------------------
const probes = []
const probe = async (room, killedAt) => {
  const doc = new Y.Doc()
  const provider = websocket(lb, room, doc)
  const ok = await until(() => provider.synced, PROBE_MS)
  const result = { room, ms: ok ? Date.now() - killedAt : null, tokens: doc.getArray('log').length }
  provider.destroy()
  return result
}

const servedTimes = (list) => {
  const ms = list.map((p) => p.ms).filter((x) => x !== null).sort((a, b) => a - b)
  return ms.length === 0 ? {} : { min: ms[0], median: ms[Math.floor(ms.length / 2)], max: ms[ms.length - 1] }
}

const commands = readline.createInterface({ input: process.stdin })
commands.on('line', async (line) => {
  let msg
  try { msg = JSON.parse(line) } catch { return log('ignoring', line) }
  if (msg.cmd === 'killed') {
    const killedAt = Number(msg.at) || Date.now()
    // the clients' own view: how long until every one of them is connected and synced again
    const backAll = until(() => allSynced() && clients.some((c) => c.disconnects > 0), PROBE_MS).then((ok) => ok ? Date.now() - killedAt : null)
    const list = await Promise.all((msg.rooms || []).map((room) => probe(room, killedAt)))
    probes.push(...list)
    emit('served', { rooms: list.length, unserved: list.filter((p) => p.ms === null).map((p) => p.room), ms: servedTimes(list), allClientsBackMs: await backAll })
  } else if (msg.cmd === 'finish') {
    await end()
  }
})
commands.on('close', () => { if (!ended) finish(false, { reason: 'stdin closed before finish' }) })

async function end () {
  if (ended) return
  ended = true
  editing = false
  await Promise.all(loops)
  // every client back and synced, and the clients of each room agreeing
  const tokens = (doc) => doc.getArray('log').toArray()
  const view = (doc) => JSON.stringify([[...tokens(doc)].sort(), doc.getText('text').toString().length])
  const roomClients = (room) => clients.filter((c) => c.room === room)
  const converged = () => allSynced() && rooms.every((room) => {
    const cs = roomClients(room)
    return cs.every((c) => tokens(c.doc).length === written.get(room).size && view(c.doc) === view(cs[0].doc))
  })
  const ok = await until(converged, CONVERGE_MS)
  if (!ok) {
    const behind = rooms.flatMap((room) => roomClients(room).filter((c) => !c.provider.synced || tokens(c.doc).length !== written.get(room).size)
      .map((c) => ({ client: c.name, connected: c.provider.wsconnected, synced: c.provider.synced, tokens: tokens(c.doc).length, written: written.get(room).size })))
    clients.forEach((c) => c.provider.destroy())
    return finish(false, { reason: `clients did not converge within ${CONVERGE_MS} ms`, behind: behind.slice(0, 20) })
  }
  clients.forEach((c) => c.provider.destroy())

  // a fresh client per room reads everything: every written token (the writers survived and resent
  // whatever the room lacked), in particular every acknowledged one, and the same text
  const fresh = await Promise.all(rooms.map(async (room) => {
    const doc = new Y.Doc()
    const provider = partyKit(lb, room, doc)
    const synced = await until(() => provider.synced && tokens(doc).length >= written.get(room).size, 30_000)
    const have = new Set(tokens(doc))
    const missingAcked = [...acked.get(room)].filter((t) => !have.has(t))
    const missingWritten = [...written.get(room)].filter((t) => !have.has(t))
    const sameText = doc.getText('text').toString() === roomClients(room)[0].doc.getText('text').toString()
    const duplicates = tokens(doc).length - have.size
    provider.destroy()
    return { room, synced, missingAcked, missingWritten, sameText, duplicates }
  }))
  const bad = fresh.filter((f) => !f.synced || f.missingAcked.length > 0 || f.missingWritten.length > 0 || !f.sameText || f.duplicates > 0)
  const sum = (m) => [...m.values()].reduce((a, s) => a + s.size, 0)
  finish(bad.length === 0, {
    reason: bad.length === 0 ? undefined : 'a fresh client did not read what the clients wrote',
    bad: bad.slice(0, 10).map((b) => ({ ...b, missingAcked: b.missingAcked.slice(0, 5), missingWritten: b.missingWritten.slice(0, 5) })),
    rooms: ROOMS,
    clients: clients.length,
    written: sum(written),
    acknowledged: sum(acked),
    disconnects: clients.reduce((a, c) => a + c.disconnects, 0),
    closeCodes,
    probes: { rooms: probes.length, ms: servedTimes(probes), unserved: probes.filter((p) => p.ms === null).map((p) => p.room) },
    loadBalancer: externalLb ? { external: externalLb } : lbStats
  })
}
