#!/usr/bin/env node
// Makes the benchmark inputs: a realistic, deterministic live-editing trace of single-character
// edits, and the full state of a ~1 MB document produced the same way.
//
//   node make-trace.mjs [--updates 120000] [--clients 5] [--seed 42] [--doc-bytes 1048576] [--out out]
//                       [--base-clients N]
//
// Several clients, each with its own Y.Doc and an explicit clientID, edit ONE Y.Text (root "text"):
// mostly typing at their own cursor (so their characters follow each other, as real typing does),
// backspace for ~17% of the edits, now and then a cursor jump or a few arrow-key moves. Every local
// edit is its own transaction, so it yields exactly one update; the server receives each update the
// moment it is made (that arrival order is the trace). The server -> client direction has latency:
// a client pulls what it has not seen from the server log only every few steps, so concurrent
// edits interleave and items reference other clients' items, as in a live session.
//
// Writes (sizes are printed):
//   out/trace.bin   [uint32 BE length][update v1 bytes], repeated, in server arrival order
//   out/doc1mb.bin  Y.encodeStateAsUpdate of a document grown by the same generator (other seed)
//                   until its encoded state reaches --doc-bytes
//   out/doc1mb-text.bin  for contrast, a ~1 MB mostly-text document: paragraph-sized inserts of a
//                   few clients (the encode and memory numbers depend on the document's shape)
//   out/trace-state.bin  Y.encodeStateAsUpdate after the whole trace (the Java benchmark checks it)
//   out/base-clients.bin  only with --base-clients N: a document that N earlier sessions (N client
//                   IDs) each typed one character into, to apply the trace on top of (ApplyBenchmark
//                   -p base=base-clients.bin, yjs-bench.mjs --base base-clients.bin): long-lived rooms
//                   collect a client ID per session, and per-update costs may grow with their number
//   out/trace-meta.json  the parameters and the resulting counts, for the report
import * as Y from 'yjs'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
  options: {
    updates: { type: 'string', default: '120000' },
    clients: { type: 'string', default: '5' },
    seed: { type: 'string', default: '42' },
    'doc-bytes': { type: 'string', default: String(1 << 20) },
    'base-clients': { type: 'string', default: '0' },
    out: { type: 'string', default: 'out' }
  }
})
const UPDATES = Number(args.updates)
const CLIENTS = Number(args.clients)
const SEED = Number(args.seed)
const DOC_BYTES = Number(args['doc-bytes'])
const BASE_CLIENTS = Number(args['base-clients'])
const OUT = args.out
if (!(UPDATES > 0 && CLIENTS >= 2 && DOC_BYTES > 0)) throw new Error('bad arguments')

// ---------------------------------------------------------------- seeded PRNG (sfc32, seeded by a 32-bit mix)
function makeRng (seed) {
  let h = (seed ^ 0xdeadbeef) >>> 0
  const mix = () => {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0
    h = (h ^ (h >>> 15)) >>> 0
    h = (h + 0x9e3779b9) >>> 0
    return h
  }
  let a = mix(); let b = mix(); let c = mix(); let d = mix()
  const u32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = ((c << 21) | (c >>> 11)) >>> 0
    c = (c + t) >>> 0
    return t
  }
  for (let i = 0; i < 16; i++) u32()
  const rng = {
    u32,
    next: () => u32() / 4294967296,
    int: n => Math.floor(rng.next() * n),
    chance: p => rng.next() < p
  }
  return rng
}

// ---------------------------------------------------------------- text that looks like prose
const WORDS = ('the of and to in is that for it as was with be by on not he this are or his from at ' +
  'which but have an they you were her she there been one all we their has would when if so no will ' +
  'document server client editing update merge conflict cursor paragraph sentence shared state vector ' +
  'replica network offline online latency insert delete character struct sequence realtime together ' +
  'meeting notes agenda review design proposal budget schedule customer release feature question').split(' ')

/** An endless stream of prose characters (words, spaces, punctuation, newlines), per client. */
function makeTypist (rng) {
  let pending = ''
  return () => {
    if (pending.length === 0) {
      let w = WORDS[rng.int(WORDS.length)]
      if (rng.chance(0.08)) w = w[0].toUpperCase() + w.slice(1)
      const r = rng.next()
      pending = w + (r < 0.06 ? '. ' : r < 0.1 ? ', ' : r < 0.115 ? '\n' : ' ')
    }
    const ch = pending[0]
    pending = pending.slice(1)
    return ch
  }
}

const REMOTE = Symbol('remote')
const P_DELETE = 0.088 // start a run of backspaces (or, now and then, forward deletes)
const P_DELETE_MORE = 0.55 // each further character of that run: runs of ~2.2, ~17.5% of all edits
const P_JUMP = 0.004 // click somewhere else in the document
const P_ARROW = 0.01 // a few arrow-key moves
const P_PULL = 0.3 // chance per step that the acting client first pulls what it has not seen
const MAX_LAG = 24 // a client never lags more than this many foreign updates behind

/**
 * Runs a session. `onUpdate(bytes)` gets each update in server arrival order; `shouldStop(step,
 * server)` is asked after every edit. Returns the server doc (which applied every update).
 */
function runSession (seed, shouldStop, onUpdate) {
  const rng = makeRng(seed)
  const server = new Y.Doc()
  const log = [] // [origin client index, update]
  const clients = []
  const usedIds = new Set()
  for (let i = 0; i < CLIENTS; i++) {
    const doc = new Y.Doc()
    let id
    do { id = rng.u32() } while (id === 0 || usedIds.has(id))
    usedIds.add(id)
    doc.clientID = id
    const text = doc.getText('text')
    const c = { index: i, doc, text, cursor: 0, seen: 0, typist: makeTypist(rng), active: i < 3, deleting: 0, forward: false, anchor: null }
    doc.on('update', (update, origin) => {
      if (origin === REMOTE) return
      log.push([c.index, update])
      Y.applyUpdate(server, update, REMOTE)
      onUpdate(update)
    })
    clients.push(c)
  }

  const pull = c => {
    if (c.seen === log.length) return
    let foreign = false
    for (let k = c.seen; k < log.length; k++) if (log[k][0] !== c.index) { foreign = true; break }
    if (!foreign) { c.seen = log.length; return }
    // keep the cursor where it is in the content: anchor it to the character on its left (known
    // without a walk of the list when the client just typed it)
    const rel = c.anchor !== null
      ? new Y.RelativePosition(null, null, c.anchor, -1)
      : Y.createRelativePositionFromTypeIndex(c.text, c.cursor, -1)
    c.doc.transact(() => {
      for (let k = c.seen; k < log.length; k++) {
        if (log[k][0] !== c.index) Y.applyUpdate(c.doc, log[k][1], REMOTE)
      }
    }, REMOTE)
    c.seen = log.length
    const abs = Y.createAbsolutePositionFromRelativePosition(rel, c.doc)
    c.cursor = abs === null ? Math.min(c.cursor, c.text.length) : abs.index
  }
  const lag = c => {
    let n = 0
    for (let k = c.seen; k < log.length; k++) if (log[k][0] !== c.index) n++
    return n
  }

  let step = 0
  for (;;) {
    // who is typing right now: 2-4 people at a time, joining and leaving now and then
    for (const c of clients) {
      if (rng.chance(0.0008)) c.active = !c.active
    }
    let active = clients.filter(c => c.active)
    if (active.length < 2) {
      const idle = clients.filter(c => !c.active)
      idle[rng.int(idle.length)].active = true
      active = clients.filter(c => c.active)
    }
    const c = active[rng.int(active.length)]
    if (rng.chance(P_PULL) || lag(c) > MAX_LAG) pull(c)

    const len = c.text.length
    if (c.cursor > len) { c.cursor = len; c.anchor = null }
    const r = rng.next()
    if (r < P_JUMP || len === 0) {
      pull(c)
      c.cursor = c.text.length === 0 ? 0 : rng.int(c.text.length + 1)
      c.anchor = null
    } else if (r < P_JUMP + P_ARROW) {
      c.cursor = Math.max(0, Math.min(len, c.cursor + rng.int(11) - 5))
      c.anchor = null
    }
    const len2 = c.text.length
    if (c.deleting === 0 && rng.chance(P_DELETE)) {
      c.deleting = 1
      while (rng.chance(P_DELETE_MORE)) c.deleting++
      c.forward = rng.chance(0.08)
    }
    if (c.deleting > 0 && len2 > 0) {
      c.deleting--
      c.anchor = null
      if (c.forward ? c.cursor === len2 : c.cursor > 0) {
        c.text.delete(c.cursor - 1, 1) // backspace
        c.cursor--
      } else {
        c.text.delete(c.cursor, 1) // forward delete
      }
    } else {
      c.deleting = 0
      c.text.insert(c.cursor, c.typist())
      c.cursor++
      c.anchor = Y.createID(c.doc.clientID, Y.getState(c.doc.store, c.doc.clientID) - 1)
    }
    step++
    if (shouldStop(step, server)) break
  }
  // everyone catches up: all replicas must agree with the server
  for (const c of clients) pull(c)
  const want = server.getText('text').toString()
  for (const c of clients) {
    if (c.text.toString() !== want) throw new Error('replica ' + c.index + ' diverged from the server')
  }
  return server
}

mkdirSync(OUT, { recursive: true })

// ---------------------------------------------------------------- trace.bin
{
  const t0 = Date.now()
  const parts = []
  let bytes = 0
  let deletes = 0
  const server = runSession(SEED, step => step >= UPDATES, u => {
    const head = Buffer.alloc(4)
    head.writeUInt32BE(u.length, 0)
    parts.push(head, Buffer.from(u.buffer, u.byteOffset, u.byteLength))
    bytes += u.length
    if (u[0] === 0) deletes++ // no struct blocks: a delete-only update
  })
  const file = Buffer.concat(parts)
  writeFileSync(join(OUT, 'trace.bin'), file)
  const state = Y.encodeStateAsUpdate(server)
  writeFileSync(join(OUT, 'trace-state.bin'), state) // what the Java side must end with
  const meta = {
    seed: SEED,
    clients: CLIENTS,
    updates: UPDATES,
    deleteUpdates: deletes,
    insertUpdates: UPDATES - deletes,
    updateBytes: bytes,
    traceFileBytes: file.length,
    finalTextLength: server.getText('text').length,
    finalStateBytes: state.length,
    seconds: (Date.now() - t0) / 1000
  }
  console.log(`trace.bin: ${UPDATES} updates (${deletes} deletes, ${(100 * deletes / UPDATES).toFixed(1)}%), ` +
    `${bytes} update bytes (${(bytes / UPDATES).toFixed(1)} B/update), final text ${meta.finalTextLength} chars, ` +
    `final state ${state.length} B, ${meta.seconds}s`)
  globalThis.traceMeta = meta
}

/** What a state holds: structs, items with live text, deleted items, characters. */
function shapeOf (state) {
  const u = Y.decodeUpdate(state)
  let items = 0; let deletedItems = 0; let chars = 0; let deletedChars = 0
  for (const st of u.structs) {
    if (!(st instanceof Y.Item)) continue
    items++
    if (st.content instanceof Y.ContentDeleted) { deletedItems++; deletedChars += st.length } else chars += st.length
  }
  let dsRanges = 0
  for (const ranges of u.ds.clients.values()) dsRanges += ranges.length
  return { items, deletedItems, liveChars: chars, deletedChars, deleteSetRanges: dsRanges, bytesPerItem: +(state.length / items).toFixed(1) }
}

/**
 * A mostly-text document, for contrast: a few clients paste and write whole paragraphs
 * (100-2000 characters per insert) at paragraph boundaries and now and then delete a sentence,
 * syncing after every edit, until the encoded state reaches the target size.
 */
function proseSession (seed) {
  const rng = makeRng(seed)
  const docs = []
  for (let i = 0; i < 3; i++) {
    const doc = new Y.Doc()
    doc.clientID = rng.u32() || 1
    docs.push(doc)
  }
  const typist = makeTypist(rng)
  let edits = 0
  for (;;) {
    const doc = docs[rng.int(docs.length)]
    const text = doc.getText('text')
    const len = text.length
    if (len > 2000 && rng.chance(0.15)) {
      const at = rng.int(len - 200)
      text.delete(at, 20 + rng.int(150))
    } else {
      let para = ''
      const n = 100 + rng.int(1900)
      while (para.length < n) para += typist()
      // at a paragraph boundary: the end, or right after a newline
      let at = len
      if (len > 0 && rng.chance(0.5)) {
        const nl = text.toString().indexOf('\n', rng.int(len))
        if (nl >= 0) at = nl + 1
      }
      text.insert(at, para + '\n')
    }
    edits++
    const update = Y.encodeStateAsUpdate(doc)
    for (const other of docs) if (other !== doc) Y.applyUpdate(other, update)
    if (update.length >= DOC_BYTES) return { state: update, edits }
  }
}

// ---------------------------------------------------------------- doc1mb.bin
{
  const t0 = Date.now()
  let updates = 0
  let state = null
  const server = runSession(SEED + 1, (step, server) => {
    // the state grows ~8 B per edit: measure it only now and then, more often near the target
    const every = state === null || state.length < DOC_BYTES * 0.95 ? 2000 : 50
    if (step % every !== 0) return false
    state = Y.encodeStateAsUpdate(server)
    return state.length >= DOC_BYTES
  }, () => { updates++ })
  state = Y.encodeStateAsUpdate(server)
  writeFileSync(join(OUT, 'doc1mb.bin'), state)
  const meta = {
    seed: SEED + 1,
    updates,
    stateBytes: state.length,
    textLength: server.getText('text').length,
    shape: shapeOf(state),
    seconds: (Date.now() - t0) / 1000
  }
  console.log(`doc1mb.bin: ${state.length} B state after ${updates} edits, text ${meta.textLength} chars, ` +
    `${meta.shape.items} items (${meta.shape.deletedItems} deleted), ${meta.seconds}s`)

  const t1 = Date.now()
  const prose = proseSession(SEED + 2)
  writeFileSync(join(OUT, 'doc1mb-text.bin'), prose.state)
  const proseMeta = {
    seed: SEED + 2,
    edits: prose.edits,
    stateBytes: prose.state.length,
    shape: shapeOf(prose.state),
    seconds: (Date.now() - t1) / 1000
  }
  console.log(`doc1mb-text.bin: ${prose.state.length} B state after ${prose.edits} paragraph edits, ` +
    `${proseMeta.shape.items} items (${proseMeta.shape.deletedItems} deleted), ${proseMeta.seconds}s`)
  globalThis.traceMeta.shape = shapeOf(readFileSync(join(OUT, 'trace-state.bin')))
  const all = { trace: globalThis.traceMeta, doc1mb: meta, doc1mbText: proseMeta }
  writeFileSync(join(OUT, 'trace-meta.json'), JSON.stringify(all, null, 2) + '\n')
}

// ---------------------------------------------------------------- base-clients.bin (optional)
if (BASE_CLIENTS > 0) {
  const rng = makeRng(SEED + 3)
  const base = new Y.Doc()
  const used = new Set()
  for (let i = 0; i < BASE_CLIENTS; i++) {
    const d = new Y.Doc()
    let id
    do { id = rng.u32() } while (id === 0 || used.has(id))
    used.add(id)
    d.clientID = id
    Y.applyUpdate(d, Y.encodeStateAsUpdate(base))
    const text = d.getText('text')
    text.insert(rng.int(text.length + 1), 'x')
    Y.applyUpdate(base, Y.encodeStateAsUpdate(d))
  }
  const state = Y.encodeStateAsUpdate(base)
  writeFileSync(join(OUT, 'base-clients.bin'), state)
  console.log(`base-clients.bin: ${BASE_CLIENTS} client IDs, ${state.length} B`)
  const metaFile = join(OUT, 'trace-meta.json')
  writeFileSync(metaFile, JSON.stringify({ ...JSON.parse(readFileSync(metaFile, 'utf8')), baseClients: BASE_CLIENTS }, null, 2) + '\n')
}
