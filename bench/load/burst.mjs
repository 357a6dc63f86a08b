#!/usr/bin/env node
// Pressure profile "burst": R rooms x P clients, every client inserts N times in a tight loop, all at
// once; how long until every room has converged, are all edits there, and what did it cost the server.
//
//   node burst.mjs --url-base ws://127.0.0.1:PORT --rooms 4 --clients 12 --inserts 400
//                  [--ws-every 4] [--procs 2] [--server-pid PID] [--converge-timeout 180] [--label NAME]
//
// Clients are real Y.Docs with real providers: YPartyKitProvider from y-partykit 0.0.33 (URL
// /parties/main/<room>?_pk=<uuid>), and every --ws-every-th client of a room (c mod k = k-1) a
// y-websocket 3.1.0 WebsocketProvider on the same path (serverUrl ws://host/parties/main), so both
// kinds share the room on both servers (the reference names a document after the whole path).
//
// Once every client has synced, each client appends N tokens "[c.i]" to the shared text 't', one
// insert per transaction (text.insert(text.length, token), no doc.transact around it), all N in one
// synchronous loop; the clients of one process run their loops one after another in successive
// event-loop turns (setImmediate), every process starts at the same instant T0. Appends at the end
// all conflict at the same position: the hardest case for the YATA integration on both ends.
// A client is complete when its text has the length of all P x N tokens; a room has converged when
// all its clients are complete and their texts are equal. Reported: seconds from the first insert
// until every room has converged (bounded by --converge-timeout; "not converged" otherwise), the
// server's CPU seconds over that interval, and the generator's (real clients applying every update
// are part of the work: a server that merges updates makes it cheaper). Then a fresh client per room
// (a YPartyKitProvider, while the burst's clients are still connected) reads the document: every
// token "[c.i]" for c < P, i < N must be there exactly once, and nothing else.
//
// Prints one JSON line. Every wait is bounded; the process exits by itself.
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import YPartyKitProvider from 'y-partykit/provider'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { clock, parseArgs, round, sleep } from './lib.mjs'
import { addCounts, childChannel, forkChildren, hardLimit, newRoomPrefix, irqCpuCores, otherCpuCores, Probe, requireLoopback, share } from './pressure-lib.mjs'

const DEFAULTS = {
  urlBase: '',
  rooms: 4,
  clients: 12,
  inserts: 400,
  wsEvery: 4, // every k-th client of a room is a y-websocket WebsocketProvider; 0: none
  party: 'main',
  procs: 2,
  serverPid: '',
  connectTimeout: 60,
  convergeTimeout: 180,
  readTimeout: 30,
  label: '',
  roomPrefix: '',
  // set by the coordinator for its children
  child: false,
  part: 0,
  parts: 1
}
const o = parseArgs(process.argv.slice(2), DEFAULTS)
requireLoopback(o.urlBase)
for (const k of ['rooms', 'clients', 'inserts', 'procs']) {
  if (!(o[k] > 0)) {
    console.error(`--${k} must be positive`)
    process.exit(2)
  }
}
hardLimit(o.connectTimeout + o.convergeTimeout + o.readTimeout + 90, 'burst')

const token = (c, i) => `[${c}.${i}]`
const TOKEN_RE = /\[(\d+)\.(\d+)\]/g

function expectedLength () {
  let n = 0
  for (let c = 0; c < o.clients; c++) for (let i = 0; i < o.inserts; i++) n += token(c, i).length
  return n
}

/** Tokens of a text: distinct valid ones, duplicates, and characters that are not part of any token. */
function readTokens (s) {
  const seen = new Set()
  let duplicates = 0
  let invalid = 0
  let tokenChars = 0
  for (const m of s.matchAll(TOKEN_RE)) {
    tokenChars += m[0].length
    const c = Number(m[1])
    const i = Number(m[2])
    if (!(c < o.clients && i < o.inserts)) {
      invalid++
      continue
    }
    const key = c * o.inserts + i
    if (seen.has(key)) duplicates++
    else seen.add(key)
  }
  return { present: seen.size, duplicates, invalid, strayChars: s.length - tokenChars }
}

function newProvider (kind, roomName, doc) {
  if (kind === 'y-websocket') {
    return new WebsocketProvider(`${o.urlBase}/parties/${o.party}`, roomName, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
  }
  return new YPartyKitProvider(o.urlBase, roomName, doc, { party: o.party, WebSocketPolyfill: WebSocket, disableBc: true })
}

// ------------------------------------------------------------------ child: the clients of some rooms

async function child () {
  const ch = childChannel()
  process.setMaxListeners(0) // every provider adds an 'exit' listener
  const [from, to] = share(o.rooms, o.parts, o.part)
  const expectedLen = expectedLength()
  const stats = { disconnects: 0, reconnects: 0, connectionErrors: 0, closeCodes: {} }
  const providers = { 'y-partykit': 0, 'y-websocket': 0 }
  let stopping = false
  const watch = (provider, cl) => {
    provider.on('sync', (s) => { if (s && cl) cl.synced = true })
    provider.on('status', ({ status }) => {
      if (!cl) return
      if (status === 'connected') {
        if (cl.everConnected) stats.reconnects++
        cl.everConnected = true
      } else if (status === 'disconnected' && !stopping) stats.disconnects++
    })
    provider.on('connection-error', () => { if (!stopping) stats.connectionErrors++ })
    provider.on('connection-close', (ev) => {
      if (!stopping && ev) stats.closeCodes[ev.code] = (stats.closeCodes[ev.code] || 0) + 1
    })
  }

  const rooms = []
  for (let r = from; r < to; r++) {
    const name = `${o.roomPrefix}-${r}`
    const clients = []
    for (let c = 0; c < o.clients; c++) {
      const kind = o.wsEvery > 0 && c % o.wsEvery === o.wsEvery - 1 ? 'y-websocket' : 'y-partykit'
      providers[kind]++
      const doc = new Y.Doc()
      const text = doc.getText('t')
      const cl = { c, kind, doc, text, synced: false, everConnected: false, completeAt: null, provider: null }
      text.observe(() => {
        if (cl.completeAt == null && text.length >= expectedLen) cl.completeAt = clock()
      })
      cl.provider = newProvider(kind, name, doc)
      watch(cl.provider, cl)
      clients.push(cl)
    }
    rooms.push({ name, clients })
  }
  const all = rooms.flatMap((r) => r.clients)

  const connectStart = clock()
  while (clock() - connectStart < o.connectTimeout * 1000 && !all.every((c) => c.synced)) await sleep(20)
  const unsynced = all.filter((c) => !c.synced).length
  await sleep(300) // the awareness greetings pass
  await ch.send({ type: 'ready', unsynced, syncMs: clock() - connectStart })

  // the burst
  const { T0 } = await ch.next('go')
  await sleep(Math.max(0, T0 - clock()))
  const cpu0 = process.cpuUsage()
  let firstInsertAt = null
  let lastInsertAt = null
  const order = [...all].sort(() => Math.random() - 0.5)
  for (const cl of order) {
    setImmediate(() => {
      const t = clock()
      if (firstInsertAt == null) firstInsertAt = t
      for (let i = 0; i < o.inserts; i++) cl.text.insert(cl.text.length, token(cl.c, i))
      lastInsertAt = clock()
    })
  }
  const deadline = T0 + o.convergeTimeout * 1000
  while (clock() < deadline && !(lastInsertAt != null && all.every((c) => c.completeAt != null))) await sleep(10)
  const cpuBurst = process.cpuUsage(cpu0)
  const roomResults = rooms.map((room) => {
    const texts = room.clients.map((c) => c.text.toString())
    const complete = room.clients.every((c) => c.completeAt != null && c.text.length === expectedLen)
    const equal = texts.every((s) => s === texts[0])
    return {
      name: room.name,
      converged: complete && equal,
      complete_clients: room.clients.filter((c) => c.completeAt != null).length,
      equal,
      convergedAt: complete && equal ? Math.max(...room.clients.map((c) => c.completeAt)) : null,
      // edits the least complete client has: for a room that did not converge
      min_present: Math.min(...texts.map((s) => readTokens(s).present)),
      text: texts[0]
    }
  })
  await ch.send({
    type: 'converged',
    firstInsertAt,
    lastInsertAt,
    cpuSeconds: (cpuBurst.user + cpuBurst.system) / 1e6,
    rooms: roomResults.map(({ text, ...r }) => r)
  })

  // a fresh client per room reads the document
  await ch.next('verify')
  const readers = roomResults.map((rr) => {
    const doc = new Y.Doc()
    const reader = { doc, synced: false, provider: newProvider('y-partykit', rr.name, doc) }
    reader.provider.on('sync', (s) => { if (s) reader.synced = true })
    return reader
  })
  const readStart = clock()
  while (clock() - readStart < o.readTimeout * 1000 && !readers.every((r) => r.synced)) await sleep(20)
  const reads = readers.map((reader, i) => {
    const s = reader.doc.getText('t').toString()
    return {
      name: roomResults[i].name,
      synced: reader.synced,
      ...readTokens(s),
      expected: o.clients * o.inserts,
      same_as_clients: s === roomResults[i].text
    }
  })
  const readMs = clock() - readStart

  stopping = true
  for (const x of [...all, ...readers]) {
    x.provider.destroy()
    x.doc.destroy()
  }
  await sleep(300)
  await ch.send({ type: 'result', stats, providers, reads, readMs })
  process.exit(0)
}

// ------------------------------------------------------------------ coordinator

async function coordinator () {
  const self = fileURLToPath(import.meta.url)
  const k = Math.min(o.procs, o.rooms)
  const roomPrefix = o.roomPrefix || newRoomPrefix('burst')
  const kids = forkChildren(self, k, (i) => [...process.argv.slice(2), '--child', '--part', String(i), '--parts', String(k), '--room-prefix', roomPrefix])
  const errors = []
  const fail = (msg) => {
    console.log(JSON.stringify({ profile: 'burst', label: o.label || undefined, url_base: o.urlBase, ok: false, errors: [msg], summary: `failed: ${msg}` }))
    process.exit(1)
  }

  const readies = await kids.all('ready', (o.connectTimeout + 20) * 1000)
  if (readies.some((r) => r == null)) fail('a generator process did not get ready')
  const unsynced = readies.reduce((a, r) => a + r.unsynced, 0)
  if (unsynced > 0) errors.push(`${unsynced} clients not synced after ${o.connectTimeout}s`)

  const T0 = clock() + 300
  kids.send({ type: 'go', T0 })
  await sleep(Math.max(0, T0 - clock()))
  const probe = new Probe(o.serverPid)
  probe.start()
  const convs = await kids.all('converged', (o.convergeTimeout + 30) * 1000)
  const p = probe.stop()
  if (convs.some((c) => c == null)) fail('a generator process did not report the end of the burst')

  kids.send({ type: 'verify' })
  const results = await kids.all('result', (o.readTimeout + 30) * 1000)
  if (results.some((r) => r == null)) fail('a generator process did not report its reads')

  const rooms = convs.flatMap((c) => c.rooms)
  const firstInsertAt = Math.min(...convs.map((c) => c.firstInsertAt))
  const lastInsertAt = Math.max(...convs.map((c) => c.lastInsertAt))
  const converged = rooms.every((r) => r.converged)
  const roomSeconds = rooms.filter((r) => r.converged).map((r) => (r.convergedAt - firstInsertAt) / 1000)
  const reads = results.flatMap((r) => r.reads)
  const stats = { disconnects: 0, reconnects: 0, connectionErrors: 0, closeCodes: {} }
  const providers = {}
  for (const r of results) {
    for (const key of ['disconnects', 'reconnects', 'connectionErrors']) stats[key] += r.stats[key]
    addCounts(stats.closeCodes, r.stats.closeCodes)
    addCounts(providers, r.providers)
  }
  const generatorCpu = convs.reduce((a, c) => a + c.cpuSeconds, 0)
  const edits = {
    expected: reads.reduce((a, r) => a + r.expected, 0),
    present: reads.reduce((a, r) => a + r.present, 0),
    duplicates: reads.reduce((a, r) => a + r.duplicates, 0),
    invalid_tokens: reads.reduce((a, r) => a + r.invalid, 0),
    stray_chars: reads.reduce((a, r) => a + r.strayChars, 0),
    readers_synced: reads.filter((r) => r.synced).length,
    readers_same_as_clients: reads.filter((r) => r.same_as_clients).length,
    rooms: reads.length
  }
  edits.missing = edits.expected - edits.present
  edits.all_present = edits.missing === 0 && edits.duplicates === 0 && edits.invalid_tokens === 0 && edits.stray_chars === 0 &&
    edits.readers_synced === edits.rooms
  if (!converged) errors.push(`not converged: ${rooms.filter((r) => !r.converged).length} of ${rooms.length} rooms after ${o.convergeTimeout}s`)
  if (!edits.all_present) errors.push(`fresh readers: ${edits.present} of ${edits.expected} edits present, ${edits.duplicates} duplicated, ${edits.readers_synced}/${edits.rooms} synced`)

  const convergeS = converged ? round(Math.max(...roomSeconds)) : null
  const out = {
    profile: 'burst',
    label: o.label || undefined,
    url_base: o.urlBase,
    rooms: o.rooms,
    clients_per_room: o.clients,
    inserts_per_client: o.inserts,
    edits_total: o.rooms * o.clients * o.inserts,
    providers,
    procs: k,
    room_prefix: roomPrefix,
    converged,
    converged_rooms: rooms.filter((r) => r.converged).length,
    converge_s: convergeS,
    converge_s_per_room: { min: roomSeconds.length ? round(Math.min(...roomSeconds)) : null, max: convergeS },
    send_s: round((lastInsertAt - firstInsertAt) / 1000), // first insert to the last client's last insert
    measured_s: round(p.seconds),
    not_converged: converged ? undefined : rooms.filter((r) => !r.converged).map((r) => ({ room: r.name, complete_clients: r.complete_clients, equal: r.equal, min_present: r.min_present })),
    edits,
    server_cpu_seconds: round(p.serverCpuSeconds),
    server_cpu_cores: round(p.serverCpuSeconds != null ? p.serverCpuSeconds / p.seconds : null),
    generator: {
      cpu_seconds: round(generatorCpu),
      // a generator process busy all along: the convergence time is bounded by the clients, not the server
      busy_max: round(Math.max(...convs.map((c) => c.cpuSeconds / p.seconds))),
      saturated: Math.max(...convs.map((c) => c.cpuSeconds / p.seconds)) > 0.9
    },
    machine_cpu_busy: round(p.machineBusy),
    irq_cpu_cores: irqCpuCores(p),
    other_cpu_cores: otherCpuCores(p, generatorCpu),
    connections: { clients: o.rooms * o.clients, ...stats },
    errors
  }
  out.ok = errors.length === 0 && converged && edits.all_present
  out.summary = `${converged ? `converged in ${convergeS} s` : '**not converged**'} (${out.converged_rooms}/${o.rooms} rooms); edits ${edits.present}/${edits.expected}` +
    `${edits.duplicates ? ` (${edits.duplicates} duplicated)` : ''}; server ${out.server_cpu_seconds} CPU s; generator ${out.generator.cpu_seconds} CPU s` +
    `${out.generator.saturated ? ' (busy)' : ''}; disconnects ${stats.disconnects}; other jobs ${out.other_cpu_cores} cores`
  console.log(JSON.stringify(out))
  process.exit(out.ok ? 0 : 1)
}

if (o.child) await child()
else await coordinator()
