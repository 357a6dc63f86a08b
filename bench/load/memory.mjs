#!/usr/bin/env node
// Heap a y-websocket room server needs for loaded rooms and for idle connections, measured with
// the real clients.
//
//   node memory.mjs --url-base ws://127.0.0.1:PORT --heap java:PID
//   node memory.mjs --url-base ws://127.0.0.1:PORT --heap node:http://127.0.0.1:PORT/__bench/heap
//        [--rooms 1000] [--doc-bytes 10240] [--docs encoded,text,paste] [--idle 1000] [--idle-rooms 100]
//
// Heap is read after a full GC: `jcmd PID GC.run` then `GC.heap_info` (used) for a JVM;
// ref-server.mjs's gc() + process.memoryUsage().heapUsed hook for Node.
//
// 1. baseline heap.
// 2. for each document kind in --docs, one phase: R new rooms; in each, one client connects,
//    writes the document and stays connected, idle, so the room stays loaded (a room's figure
//    includes that one connection). A second client then joins each room, checks that the server
//    gives it the whole document, and leaves. Heap again: the phase's rooms = the difference.
//    Document kinds, all with --doc-bytes (10 KB by default):
//      encoded  typed text: runs of 50 characters inserted at random positions, as many as make
//               an encoded Yjs state of --doc-bytes (about 6,000 characters, ~230 items)
//      text     typed the same way, --doc-bytes characters of text (~400 items, ~16 KB encoded)
//      paste    --doc-bytes characters inserted at once (1 item; the smallest a 10 KB text gets)
// 3. C more idle clients (none with --idle 0), spread over the first --idle-rooms rooms of the
//    first phase (C / idle-rooms each). Heap again: idle connections = the difference.
//
// run.sh runs one document kind per fresh server, so that each starts from an empty server (the
// first rooms also pay one-off costs: H2's page cache filling up, sharding's shard actors, ...).
//
// Prints one JSON line. Every wait is bounded; the process exits by itself.
import { execFileSync } from 'node:child_process'
import http from 'node:http'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { clock, sleep, parseArgs, procRssMiB, round } from './lib.mjs'

const o = parseArgs(process.argv.slice(2), {
  urlBase: '',
  heap: '', // java:PID | node:URL
  rooms: 1000,
  docBytes: 10240,
  docs: 'encoded,text,paste',
  edits: 10, // transactions (messages) per room to write a typed document
  idle: 1000,
  idleRooms: 100,
  batch: 50, // connections opened concurrently
  roomPrefix: '',
  settle: 3, // seconds to wait before each heap reading
  phaseTimeout: 180, // seconds for each phase
  hold: 0, // seconds to keep every connection open at the end (to inspect the server meanwhile)
  label: ''
})
if (!/^wss?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/.test(o.urlBase)) {
  console.error('--url-base must be a ws:// URL on the loopback interface')
  process.exit(2)
}
const heapMatch = /^(java):(\d+)$|^(node):(http:\/\/(127\.\d+\.\d+\.\d+|localhost)(:\d+)?\/.*)$/.exec(o.heap)
if (!heapMatch) {
  console.error('--heap must be java:PID or node:http://127.0.0.1:PORT/path')
  process.exit(2)
}
const kinds = o.docs.split(',').map((s) => s.trim()).filter(Boolean)
for (const k of kinds) {
  if (!['encoded', 'text', 'paste'].includes(k)) {
    console.error(`unknown document kind ${k}`)
    process.exit(2)
  }
}
if (!o.roomPrefix) o.roomPrefix = `doc-mem-${Date.now().toString(36)}`
setTimeout(() => {
  console.error('memory: hard time limit reached, exiting')
  process.exit(3)
}, (o.phaseTimeout * (2 * kinds.length + 1) + o.settle * 10 + Math.min(o.hold, 600) + 120) * 1000).unref()
process.setMaxListeners(0)

const MB = 1e6 // goals are in MB; all figures below are decimal megabytes

/** Heap in use after a full GC, in MB, plus the process's RSS. */
async function readHeap () {
  if (heapMatch[1] === 'java') {
    const pid = heapMatch[2]
    const jcmd = (...args) => execFileSync('jcmd', [pid, ...args], { encoding: 'utf8', timeout: 60_000 })
    jcmd('GC.run')
    await sleep(500)
    jcmd('GC.run')
    const info = jcmd('GC.heap_info')
    // G1: "garbage-first heap total NK, used NK"; the serial collector (conf/jvm.options): one line per
    // generation, "def new generation total NK, used NK" and "tenured generation total NK, used NK"
    const g1 = /heap\s+total (\d+)K, used (\d+)K/.exec(info)
    const generations = [...info.matchAll(/generation\s+total (\d+)K, used (\d+)K/g)]
    const usedK = g1 ? Number(g1[2]) : generations.length ? generations.reduce((a, g) => a + Number(g[2]), 0) : null
    if (usedK == null) throw new Error(`cannot parse GC.heap_info: ${info}`)
    const rss = procRssMiB(Number(pid))
    return { heap: (usedK * 1024) / MB, rss: rss == null ? null : (rss * 1024 * 1024) / MB }
  }
  const body = await new Promise((resolve, reject) => {
    const req = http.get(heapMatch[4], { timeout: 60_000 }, (res) => {
      let s = ''
      res.on('data', (d) => { s += d })
      res.on('end', () => resolve(s))
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('heap hook timed out')))
  })
  const j = JSON.parse(body)
  if (!j.gc) throw new Error('the reference server runs without --expose-gc')
  // V8 heap; Buffers/ArrayBuffers (ws frames, Y updates) live outside it and are reported apart
  return { heap: j.heapUsed / MB, offHeap: j.external / MB, rss: j.rss / MB }
}

async function heapAfterSettle () {
  await sleep(o.settle * 1000)
  await readHeap() // one to let anything finalisable go
  return readHeap()
}

const errors = []
const clients = []
let stopping = false
let disconnects = 0

function connect (room) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(o.urlBase, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
  const c = { room, doc, provider, synced: false, closing: false }
  provider.on('sync', (s) => { if (s) c.synced = true })
  provider.on('status', ({ status }) => { if (status === 'disconnected' && !stopping && !c.closing) disconnects++ })
  return c
}

async function waitSynced (list, what) {
  const start = clock()
  while (clock() - start < o.phaseTimeout * 1000 && !list.every((c) => c.synced)) await sleep(20)
  const missing = list.filter((c) => !c.synced).length
  if (missing) errors.push(`${what}: ${missing} clients not synced`)
  return missing === 0
}

/** Runs fn over items, at most `batch` at a time, within the phase timeout. */
async function inBatches (items, fn, what) {
  const start = clock()
  for (let i = 0; i < items.length; i += o.batch) {
    if (clock() - start > o.phaseTimeout * 1000) {
      errors.push(`${what}: phase timeout after ${i} of ${items.length}`)
      return
    }
    await Promise.all(items.slice(i, i + o.batch).map(fn))
  }
}

const FILLER = 'the quick brown fox jumps over the lazy dog, 0123456789; '.repeat(8)
const CHUNK = 50

/** Types `chars` characters in CHUNK-long runs at random positions, in o.edits transactions. */
function typeText (doc, chars) {
  const text = doc.getText('content')
  const perEdit = Math.ceil(Math.ceil(chars / CHUNK) / o.edits)
  let written = 0
  while (written < chars) {
    doc.transact(() => {
      for (let k = 0; k < perEdit && written < chars; k++) {
        const n = Math.min(CHUNK, chars - written)
        const s = `${(written / CHUNK) | 0}:${FILLER}`.slice(0, n)
        text.insert(Math.floor(Math.random() * (text.length + 1)), s)
        written += n
      }
    })
  }
}

/** How many typed characters make an encoded state of o.docBytes (median of a few trial docs). */
function charsForEncodedSize () {
  const trials = []
  for (let t = 0; t < 5; t++) {
    const d = new Y.Doc()
    const text = d.getText('content')
    let chars = 0
    while (Y.encodeStateAsUpdate(d).length < o.docBytes) {
      text.insert(Math.floor(Math.random() * (text.length + 1)), `${chars}:${FILLER}`.slice(0, CHUNK))
      chars += CHUNK
    }
    trials.push(chars)
    d.destroy()
  }
  return trials.sort((a, b) => a - b)[2]
}

const encodedChars = kinds.includes('encoded') ? charsForEncodedSize() : 0
const KIND = {
  encoded: { chars: encodedChars, write: (doc) => typeText(doc, encodedChars), what: `~${o.docBytes} B encoded state, typed` },
  text: { chars: o.docBytes, write: (doc) => typeText(doc, o.docBytes), what: `${o.docBytes} characters, typed` },
  paste: {
    chars: o.docBytes,
    write: (doc) => doc.getText('content').insert(0, FILLER.repeat(Math.ceil(o.docBytes / FILLER.length)).slice(0, o.docBytes)),
    what: `${o.docBytes} characters, one insert`
  }
}

const countStructs = (doc) => {
  let n = 0
  doc.store.clients.forEach((structs) => { n += structs.length })
  return n
}

const t0 = clock()
let heapBefore = await heapAfterSettle()
const baseline = heapBefore
const phases = []
let firstRooms = null

for (const kind of kinds) {
  const spec = KIND[kind]
  const names = Array.from({ length: o.rooms }, (_, i) => `${o.roomPrefix}-${kind}-${i}`)
  if (!firstRooms) firstRooms = names
  const start = clock()
  let encoded = 0
  let structs = 0
  let seeded = 0
  await inBatches(names, async (room) => {
    const c = connect(room)
    clients.push(c)
    if (!(await waitSynced([c], `${kind} holder`))) return
    spec.write(c.doc)
    encoded += Y.encodeStateAsUpdate(c.doc).length
    structs += countStructs(c.doc)
    seeded++
  }, `${kind}: seed rooms`)
  let verified = 0
  await inBatches(names, async (room) => {
    // a fresh client must get the whole document from the server
    const c = connect(room)
    const begin = clock()
    while (clock() - begin < 20_000 && !(c.synced && c.doc.getText('content').length >= spec.chars)) await sleep(20)
    if (c.doc.getText('content').length === spec.chars) verified++
    c.closing = true
    c.provider.destroy()
    c.doc.destroy()
  }, `${kind}: verify rooms`)
  if (verified !== o.rooms) errors.push(`${kind}: only ${verified} of ${o.rooms} rooms returned the full document`)
  const seconds = (clock() - start) / 1000
  const after = await heapAfterSettle()
  phases.push({
    kind,
    document: spec.what,
    text_chars: spec.chars,
    encoded_bytes_avg: Math.round(encoded / Math.max(1, seeded)),
    structs_avg: Math.round(structs / Math.max(1, seeded)),
    rooms: o.rooms,
    rooms_verified: verified,
    added_mb: round(after.heap - heapBefore.heap, 1),
    per_room_kb: round(((after.heap - heapBefore.heap) * 1000) / o.rooms, 1),
    rss_added_mb: after.rss != null && heapBefore.rss != null ? round(after.rss - heapBefore.rss, 1) : null,
    seed_seconds: round(seconds, 1)
  })
  heapBefore = after
}

// ---- idle connections
const idle = []
let afterIdle = heapBefore
if (o.idle > 0) {
  const perRoom = Math.ceil(o.idle / o.idleRooms)
  const idleTargets = Array.from({ length: o.idle }, (_, i) => firstRooms[Math.floor(i / perRoom) % firstRooms.length])
  await inBatches(idleTargets, async (room) => {
    const c = connect(room)
    idle.push(c)
    clients.push(c)
    await waitSynced([c], 'idle')
  }, 'idle connections')
  afterIdle = await heapAfterSettle()
}
const idleConnected = idle.filter((c) => c.synced).length

if (o.hold > 0) {
  console.error(`memory: holding ${clients.length} connections for ${Math.min(o.hold, 600)} s`)
  await sleep(Math.min(o.hold, 600) * 1000)
}
const stillConnected = clients.filter((c) => c.provider.wsconnected).length
stopping = true
for (const c of clients) {
  c.provider.destroy()
  c.doc.destroy()
}
await sleep(500)

const mb = (x) => round(x, 1)
const out = {
  label: o.label || undefined,
  url_base: o.urlBase,
  heap_source: heapMatch[1] === 'java' ? 'jcmd GC.run + GC.heap_info (used)' : 'gc() + process.memoryUsage().heapUsed',
  units: 'MB = 10^6 bytes, KB = 10^3 bytes',
  heap_baseline_mb: mb(baseline.heap),
  rooms: phases,
  idle: o.idle <= 0 ? null : {
    connections: idleConnected,
    rooms: Math.min(o.idleRooms, o.rooms),
    room_kind: kinds[0],
    added_mb: mb(afterIdle.heap - heapBefore.heap),
    per_connection_kb: round(((afterIdle.heap - heapBefore.heap) * 1000) / Math.max(1, idleConnected), 1),
    rss_added_mb: afterIdle.rss != null && heapBefore.rss != null ? mb(afterIdle.rss - heapBefore.rss) : null
  },
  heap_end_mb: mb(afterIdle.heap),
  off_heap_mb: baseline.offHeap != null ? { baseline: mb(baseline.offHeap), end: mb(afterIdle.offHeap) } : undefined,
  rss_mb: { baseline: mb(baseline.rss), end: mb(afterIdle.rss) },
  seconds: round((clock() - t0) / 1000, 1),
  connected_at_end: stillConnected,
  clients_at_end: clients.length,
  disconnects,
  errors
}
out.ok = errors.length === 0 && disconnects === 0 && stillConnected === clients.length
console.log(JSON.stringify(out))
process.exit(out.ok ? 0 : 1)
