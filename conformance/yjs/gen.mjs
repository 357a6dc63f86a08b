#!/usr/bin/env node
// Trace generator for the yjs differential conformance suite.
// Usage: node gen.mjs --seed <int> --steps <n> [--gc true|false] [--state-every k] [--probe-every k] --out <file.json>
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { ROOTS, b64, newDoc, pendingOf, contentOf, describeDiff, bytesEqual } from './lib.mjs'

// ---------------------------------------------------------------------------
// Seeded PRNG: 32-bit seed expanded with a splitmix-style scrambler into a
// 128-bit xorshift state (xorshift128 with 32-bit words).
class Rng {
  constructor (seed) {
    let z = (seed >>> 0) ^ 0x9e3779b9
    const next = () => {
      z = (z + 0x6d2b79f5) >>> 0
      let t = z
      t = Math.imul(t ^ (t >>> 16), 0x85ebca6b) >>> 0
      t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35) >>> 0
      return (t ^ (t >>> 16)) >>> 0
    }
    this.s = [next(), next(), next(), next()]
    if (this.s.every(x => x === 0)) this.s[0] = 1
  }

  u32 () {
    const s = this.s
    let t = s[3]
    const x = s[0]
    s[3] = s[2]; s[2] = s[1]; s[1] = x
    t ^= t << 11; t >>>= 0
    t ^= t >>> 8
    s[0] = (t ^ x ^ (x >>> 19)) >>> 0
    return s[0]
  }

  next () { return this.u32() / 4294967296 }
  int (n) { return Math.floor(this.next() * n) } // [0, n)
  range (a, b) { return a + this.int(b - a + 1) } // [a, b]
  chance (p) { return this.next() < p }
  pick (arr) { return arr[this.int(arr.length)] }
  shuffle (arr) {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const t = arr[i]; arr[i] = arr[j]; arr[j] = t
    }
    return arr
  }

  sample (arr, k) { return this.shuffle(arr.slice()).slice(0, Math.min(k, arr.length)) }
  weighted (pairs) { // [[weight, value], ...]
    let total = 0
    for (const [w] of pairs) total += w
    let r = this.next() * total
    for (const [w, v] of pairs) { if ((r -= w) < 0) return v }
    return pairs[pairs.length - 1][1]
  }
}

// ---------------------------------------------------------------------------
const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    steps: { type: 'string', default: '300' },
    gc: { type: 'string', default: 'true' },
    out: { type: 'string' },
    'state-every': { type: 'string', default: '1' },
    'probe-every': { type: 'string', default: '1' },
    quiet: { type: 'boolean', default: false }
  }
})
if (args.seed == null || args.out == null) {
  console.error('usage: node gen.mjs --seed <int> --steps <n> [--gc true|false] [--state-every k] [--probe-every k] --out <file.json>')
  process.exit(2)
}
const SEED = parseInt(args.seed, 10)
const NSTEPS = parseInt(args.steps, 10)
const GC = args.gc !== 'false'
const STATE_EVERY = Math.max(1, parseInt(args['state-every'], 10))
const PROBE_EVERY = Math.max(1, parseInt(args['probe-every'], 10))
if (!Number.isFinite(SEED) || !Number.isFinite(NSTEPS)) { console.error('bad --seed/--steps'); process.exit(2) }

const t0 = Date.now()
const rng = new Rng(SEED)

const cov = {
  clients: 0,
  clientTransactions: 0,
  multiOpTransactions: 0,
  ops: {},
  deliveries: {},
  stepsPendingStructs: 0,
  stepsPendingDs: 0,
  stepsAnyPending: 0,
  stepsStuckPending: 0,
  duplicateDeliveries: 0,
  mergedBatchDeliveries: 0,
  mergedBatchesWithDeliveredOverlap: 0,
  jsonInjections: 0,
  jsonAppliedToClient: 0,
  surrogateSplitDeletes: 0,
  surrogateSplitInserts: 0,
  surrogateSplitFormats: 0,
  subdocs: 0,
  subdocsWithOpts: 0,
  bigints: 0,
  binaries: 0,
  binariesNested: 0,
  nestedTypesCreated: 0,
  parentDeleteRaces: 0,
  formatRaces: 0,
  syncsFull: 0,
  syncsPartial: 0,
  clientPendingSeen: 0,
  merges: 0,
  mergesWithSkips: 0,
  fffdInFinalServer: 0,
  serverFormattingCleanups: 0,
  serverDiffersFromInOrderDoc: 0
}
const bump = (obj, key) => { obj[key] = (obj[key] || 0) + 1 }

// ---------------------------------------------------------------------------
// Clients
const TWO32 = 2 ** 32
const TWO53 = 2 ** 53
const drawId = (range) => {
  switch (range) {
    case 'small': return rng.range(0, 1000)
    case 'near32': return TWO32 - 5 + rng.range(0, 10)
    default: return TWO53 - 20 + rng.range(0, 19)
  }
}
const nClients = rng.range(3, 5)
const ranges = rng.shuffle(['small', 'near32', 'near53'])
while (ranges.length < nClients) ranges.push(rng.pick(['small', 'near32', 'near53']))
const usedIds = new Set()
const uniqueId = (range) => {
  for (;;) {
    const id = drawId(range)
    if (!usedIds.has(id)) { usedIds.add(id); return id }
  }
}
const clientIds = ranges.map(uniqueId)
// client id for the hand-encoded ContentJSON updates; never used by a doc
const jsonClient = uniqueId(rng.pick(['small', 'near32', 'near53']))
let jsonClock = 0

/** queue of every update that is a candidate for delivery to the server */
const queue = [] // { u: Uint8Array, delivered: bool, kind, from, holdUntil }
// some updates are stragglers: not eligible for delivery for a number of steps,
// so that the server holds pending structs / pending deletes for a while
const holdFor = () => steps.length + (rng.chance(0.04) ? rng.range(3, 30) : 0)
const clients = clientIds.map((id, i) => {
  const doc = newDoc(GC)
  doc.clientID = id
  doc.on('update', (u, origin, d, tr) => {
    if (tr.local) queue.push({ u, delivered: false, kind: 'local', from: i, holdUntil: holdFor() })
  })
  return doc
})
cov.clients = nClients

const checkClientIds = () => {
  clients.forEach((d, i) => {
    if (d.clientID !== clientIds[i]) throw new Error(`client ${i} changed its clientID (${clientIds[i]} -> ${d.clientID})`)
  })
}

// ---------------------------------------------------------------------------
// Value generators
const STR_PIECES = ['a', 'b', 'c', 'hello', ' ', 'xyz', 'é', 'ñ', 'ü', 'Å', 'ç', '日本', '中文', '한글', 'ß',
  '😀', '👍🏽', '🇫🇷', '👨‍👩‍👧', '𝄞', '💩', '\n', 'Z', '0', 'déjà vu']
const randStr = (maxPieces = 3) => {
  let s = ''
  const n = rng.range(1, maxPieces)
  for (let i = 0; i < n; i++) s += rng.pick(STR_PIECES)
  return s
}
const MAP_KEYS = ['a', 'b', 'c', 'd', '10', 'k']
const randBytes = () => {
  const n = rng.range(0, 6)
  const u = new Uint8Array(n)
  for (let i = 0; i < n; i++) u[i] = rng.int(256)
  return u
}
const BIGINTS = [0n, 1n, -1n, 42n, BigInt.asIntN(64, 12345678901234567890n), 2n ** 63n - 1n, -(2n ** 63n),
  9007199254740993n, -123456789012345n]
const NUMBERS = [0, 1, 7, -1, -42, 127, 128, -128, 2147483647, -2147483647, 2147483648, -2147483648,
  2147483649, 4294967296, 2 ** 40 + 3, 2 ** 53 - 1, -(2 ** 53 - 1), 1e21, 0.5, -2.25, 0.1, -0.3, 1.5e-7,
  3.4028234663852886e38, 1e300, -1e-300, -0, NaN, Infinity, -Infinity, Math.PI, 16777217, 16777216]
const randNumber = () => rng.chance(0.4) ? rng.range(-100, 100) : rng.pick(NUMBERS)

/**
 * A random value of the Any type.
 * @param {number} depth
 * @param {boolean} top whether it is a top-level element of a list insertion (no undefined/bigint there)
 */
const randAny = (depth = 0, top = false) => {
  const kinds = [
    [2, 'null'], [top ? 0 : 1, 'undefined'], [2, 'bool'], [5, 'number'], [4, 'string'],
    [depth < 3 ? 2 : 0, 'array'], [depth < 3 ? 2 : 0, 'object'], [top ? 0 : 1, 'bigint'], [top ? 0 : 1, 'binary']
  ]
  switch (rng.weighted(kinds)) {
    case 'null': return null
    case 'undefined': return undefined
    case 'bool': return rng.chance(0.5)
    case 'number': return randNumber()
    case 'string': return rng.chance(0.1) ? '' : randStr()
    case 'array': {
      const n = rng.range(0, 4)
      const a = []
      for (let i = 0; i < n; i++) a.push(randAny(depth + 1))
      return a
    }
    case 'object': {
      if (rng.chance(0.3)) return { 10: randAny(depth + 1), b: randAny(depth + 1), 2: randAny(depth + 1) }
      const o = {}
      const n = rng.range(0, 4)
      for (let i = 0; i < n; i++) o[rng.pick(['x', 'y', '1', '0', '42', 'key with space', 'ü', '😀', ''])] = randAny(depth + 1)
      return o
    }
    case 'bigint': cov.bigints++; return rng.pick(BIGINTS)
    case 'binary': cov.binariesNested++; return randBytes()
  }
}

let subdocCounter = 0
const newSubdoc = () => {
  cov.subdocs++
  const guid = rng.chance(0.1) && subdocCounter > 0
    ? `sub-${SEED}-${rng.int(subdocCounter)}` // reuse an earlier guid now and then
    : `sub-${SEED}-${subdocCounter++}-${rng.u32().toString(16)}`
  const opts = { guid }
  if (rng.chance(0.5)) {
    cov.subdocsWithOpts++
    if (rng.chance(0.6)) opts.meta = rng.pick([{ title: randStr(2), n: rng.int(100) }, { tags: ['a', 'b'] }, 'plain-meta', 17])
    if (rng.chance(0.6)) opts.autoLoad = true
    if (rng.chance(0.3)) opts.gc = false
  }
  return new Y.Doc(opts)
}

const TYPE_KINDS = ['text', 'map', 'array', 'xmlel', 'xmltext', 'xmlfrag', 'hook']
/** A new (preliminary) shared type, sometimes pre-filled. */
const newNestedType = (kinds = TYPE_KINDS) => {
  cov.nestedTypesCreated++
  const kind = rng.weighted(kinds.map(k => [k === 'hook' || k === 'xmlfrag' ? 1 : 4, k]))
  switch (kind) {
    case 'text': return rng.chance(0.5) ? new Y.Text(randStr()) : new Y.Text()
    case 'map': {
      const m = new Y.Map()
      if (rng.chance(0.5)) m.set(rng.pick(MAP_KEYS), randAny(1))
      return m
    }
    case 'array': {
      const a = new Y.Array()
      if (rng.chance(0.5)) a.insert(0, [randAny(1, true), randAny(1, true)])
      return a
    }
    case 'xmlel': {
      const e = new Y.XmlElement(rng.pick(NODE_NAMES))
      if (rng.chance(0.5)) e.setAttribute(rng.pick(ATTR_NAMES), randStr(2))
      return e
    }
    case 'xmltext': return new Y.XmlText(rng.chance(0.5) ? randStr() : undefined)
    case 'xmlfrag': return new Y.XmlFragment()
    case 'hook': {
      const h = new Y.XmlHook(rng.pick(['hook-a', 'hook-b']))
      return h
    }
  }
}
const NODE_NAMES = ['p', 'div', 'span', 'h1', 'ul', 'li', 'b', 'custom-el']
const ATTR_NAMES = ['class', 'id', 'href', 'data-x', 'style']

/** An element to insert into a Y.Array. */
const randArrayItem = () => rng.weighted([
  [10, () => randAny(0, true)],
  [3, () => newNestedType()],
  [1, () => { cov.binaries++; return randBytes() }],
  [0.4, () => newSubdoc()]
])()

/** A value for Y.Map#set. */
const randMapValue = () => rng.weighted([
  [10, () => randAny(0, false)],
  [1, () => { cov.bigints++; return rng.pick(BIGINTS) }],
  [3, () => newNestedType()],
  [1, () => { cov.binaries++; return randBytes() }],
  [0.7, () => newSubdoc()]
])()

// ---------------------------------------------------------------------------
// Text helpers: the text index space (UTF-16 units of strings, 1 for embeds)
const textUnits = (t) => {
  const units = []
  for (const op of t.toDelta()) {
    if (typeof op.insert === 'string') { for (let i = 0; i < op.insert.length; i++) units.push(op.insert.charCodeAt(i)) } else units.push(-1)
  }
  return units
}
const isHigh = c => c >= 0xd800 && c <= 0xdbff
const isLow = c => c >= 0xdc00 && c <= 0xdfff
/** Whether index i (a boundary) falls between the two halves of a surrogate pair. */
const insidePair = (units, i) => i > 0 && i < units.length && isHigh(units[i - 1]) && isLow(units[i])
const pairPositions = (units) => {
  const res = []
  for (let i = 1; i < units.length; i++) if (insidePair(units, i)) res.push(i)
  return res
}
const randTextIndex = (units) => {
  const pp = pairPositions(units)
  if (pp.length > 0 && rng.chance(0.3)) return rng.pick(pp)
  return rng.range(0, units.length)
}
const randAttrs = () => rng.weighted([
  [3, () => ({ bold: true })],
  [2, () => ({ italic: true })],
  [1, () => ({ bold: true, italic: true })],
  [1, () => ({ color: rng.pick(['#f00', '#00ff00', 'blue']) })],
  [1, () => ({ link: { href: 'https://example.com/' + rng.int(10) } })]
])()
const randFormat = () => rng.weighted([
  [3, () => ({ bold: rng.chance(0.6) ? true : null })],
  [2, () => ({ italic: rng.chance(0.6) ? true : null })],
  [2, () => ({ bold: rng.chance(0.5) ? true : null, italic: rng.chance(0.5) ? true : null })],
  [1, () => ({ color: rng.chance(0.6) ? '#abc' : null })]
])()

const textOp = (t) => {
  const units = textUnits(t)
  const len = units.length
  const op = len === 0
    ? rng.weighted([[4, 'insert'], [1, 'insertAttr'], [1, 'embed']])
    : rng.weighted([[5, 'insert'], [2, 'insertAttr'], [5, 'format'], [1, 'embed'], [len > 80 ? 12 : 5, 'delete']])
  bump(cov.ops, 'text.' + op)
  switch (op) {
    case 'insert':
    case 'insertAttr': {
      const i = randTextIndex(units)
      if (insidePair(units, i)) cov.surrogateSplitInserts++
      if (op === 'insert') t.insert(i, randStr())
      else t.insert(i, randStr(), randAttrs())
      break
    }
    case 'embed': {
      const i = randTextIndex(units)
      if (insidePair(units, i)) cov.surrogateSplitInserts++
      const embed = rng.pick([{ image: 'img' + rng.int(5) + '.png' }, { formula: 'e=mc²' }, { mention: { id: rng.int(100), name: '😀' } }])
      if (rng.chance(0.3)) t.insertEmbed(i, embed, randAttrs())
      else t.insertEmbed(i, embed)
      break
    }
    case 'format': {
      const pp = pairPositions(units)
      const start = pp.length > 0 && rng.chance(0.3) ? rng.pick(pp) : rng.range(0, len - 1)
      const l = rng.range(1, Math.min(len - start, 12))
      if (insidePair(units, start) || insidePair(units, start + l)) cov.surrogateSplitFormats++
      t.format(start, l, randFormat())
      break
    }
    case 'delete': {
      const pp = pairPositions(units)
      let start, l
      if (pp.length > 0 && rng.chance(0.4)) {
        // start or end inside a surrogate pair
        const p = rng.pick(pp)
        if (rng.chance(0.5)) { start = p; l = rng.range(1, Math.min(len - start, 6)) } else {
          start = rng.range(Math.max(0, p - 6), p - 1); l = p - start
        }
      } else {
        start = rng.range(0, len - 1)
        l = rng.range(1, Math.min(len - start, 8))
      }
      if (insidePair(units, start) || insidePair(units, start + l)) cov.surrogateSplitDeletes++
      t.delete(start, l)
      break
    }
  }
}

const mapOp = (m) => {
  const keys = [...m.keys()]
  const op = keys.length > 0 && rng.chance(0.2) ? 'delete' : 'set'
  bump(cov.ops, (m instanceof Y.XmlHook ? 'hook.' : 'map.') + op)
  if (op === 'delete') m.delete(rng.pick(keys))
  else m.set(rng.pick(MAP_KEYS), randMapValue())
}

const arrayOp = (a) => {
  const len = a.length
  const op = len === 0 ? 'insert' : rng.weighted([[5, 'insert'], [2, 'push'], [len > 16 ? 10 : 4, 'delete']])
  bump(cov.ops, 'array.' + op)
  if (op === 'delete') {
    const start = rng.range(0, len - 1)
    a.delete(start, rng.range(1, Math.min(len - start, 4)))
  } else {
    const n = rng.range(1, 4)
    const items = []
    for (let i = 0; i < n; i++) items.push(randArrayItem())
    if (op === 'push') a.push(items)
    else a.insert(rng.range(0, len), items)
  }
}

const xmlOp = (x) => { // XmlFragment or XmlElement
  const len = x.length
  const isEl = x instanceof Y.XmlElement
  const op = rng.weighted([
    [4, 'insertEl'], [3, 'insertText'], [len > 0 ? (len > 8 ? 9 : 3) : 0, 'delete'],
    [isEl ? 3 : 0, 'setAttr'], [isEl ? 1 : 0, 'removeAttr']
  ])
  bump(cov.ops, 'xml.' + op)
  switch (op) {
    case 'insertEl': {
      const el = new Y.XmlElement(rng.pick(NODE_NAMES))
      x.insert(rng.range(0, len), [el])
      if (rng.chance(0.6)) el.setAttribute(rng.pick(ATTR_NAMES), randStr(2))
      if (rng.chance(0.5)) {
        const tx = new Y.XmlText()
        el.insert(0, [tx])
        tx.insert(0, randStr(), rng.chance(0.4) ? randAttrs() : undefined)
      }
      break
    }
    case 'insertText': {
      const tx = new Y.XmlText()
      x.insert(rng.range(0, len), [tx])
      tx.insert(0, randStr())
      if (rng.chance(0.4) && tx.length > 1) tx.format(0, rng.range(1, tx.length), randFormat())
      break
    }
    case 'delete': {
      const start = rng.range(0, len - 1)
      x.delete(start, rng.range(1, Math.min(len - start, 3)))
      break
    }
    case 'setAttr': x.setAttribute(rng.pick(ATTR_NAMES), randStr(2)); break
    case 'removeAttr': {
      const names = Object.keys(x.getAttributes())
      x.removeAttribute(names.length > 0 ? rng.pick(names) : rng.pick(ATTR_NAMES))
      break
    }
  }
}

const opOn = (t) => {
  if (t instanceof Y.Text) textOp(t) // includes XmlText
  else if (t instanceof Y.Map) mapOp(t) // includes XmlHook
  else if (t instanceof Y.Array) arrayOp(t)
  else if (t instanceof Y.XmlFragment) xmlOp(t) // includes XmlElement
  else throw new Error('unknown type ' + t.constructor.name)
}

/** All live (reachable, non-deleted) shared types of a doc. */
const collectTypes = (doc) => {
  const out = []
  const visit = (t, depth) => {
    out.push(t)
    if (depth > 5 || out.length > 300) return
    let children = []
    if (t instanceof Y.Map) children = [...t.values()]
    else if (t instanceof Y.Array || t instanceof Y.XmlFragment) children = t.toArray()
    for (const c of children) if (c instanceof Y.AbstractType) visit(c, depth + 1)
  }
  for (const [name, kind] of Object.entries(ROOTS)) {
    visit(kind === 'text' ? doc.getText(name) : kind === 'map' ? doc.getMap(name) : kind === 'array' ? doc.getArray(name) : doc.getXmlFragment(name), 0)
  }
  return out
}

const pickTarget = (doc) => {
  const types = collectTypes(doc)
  const nested = types.filter(t => t._item !== null)
  if (nested.length > 0 && rng.chance(0.35)) return rng.pick(nested)
  return rng.pick(types.slice(0, 4))
}

const clientTransaction = (ci) => {
  const doc = clients[ci]
  cov.clientTransactions++
  if (rng.chance(0.35)) {
    const n = rng.range(2, 4)
    cov.multiOpTransactions++
    doc.transact(() => {
      for (let i = 0; i < n; i++) opOn(pickTarget(doc))
    })
  } else {
    opOn(pickTarget(doc))
  }
}

// ---------------------------------------------------------------------------
// Client <-> client synchronisation (never queued: only local updates are)
const applyToClient = (ci, u) => {
  Y.applyUpdate(clients[ci], u, 'sync')
  if (clients[ci].store.pendingStructs || clients[ci].store.pendingDs) cov.clientPendingSeen++
}
const fullSync = (a, b) => { // b -> a
  applyToClient(a, Y.encodeStateAsUpdate(clients[b], Y.encodeStateVector(clients[a])))
}
const syncClients = () => {
  const a = rng.int(nClients)
  if (rng.chance(0.5)) {
    cov.syncsFull++
    let b = rng.int(nClients - 1); if (b >= a) b++
    fullSync(a, b)
    if (rng.chance(0.4)) fullSync(b, a)
  } else {
    cov.syncsPartial++
    const cands = queue.filter(q => q.from !== a)
    for (const q of rng.sample(cands.slice(-40), rng.range(1, 6))) applyToClient(a, q.u)
  }
  checkClientIds()
}

// One client edits inside a nested type while another deletes it (or an ancestor).
const parentDeleteRace = () => {
  const a = rng.int(nClients)
  let b = rng.int(nClients - 1); if (b >= a) b++
  fullSync(a, b); fullSync(b, a)
  let nested = collectTypes(clients[a]).filter(t => t._item !== null)
  if (nested.length === 0) {
    clients[a].getArray('array').insert(0, [newNestedType(['text', 'map', 'array'])])
    fullSync(b, a)
    nested = collectTypes(clients[a]).filter(t => t._item !== null)
  }
  const tA = rng.pick(nested)
  // victim: the nested type itself or one of its nested ancestors
  let victimId = tA._item.id
  if (rng.chance(0.3) && tA._item.parent._item) victimId = tA._item.parent._item.id
  const victim = Y.getItem(clients[b].store, victimId)
  if (victim.deleted) return
  const parent = victim.parent
  clients[b].transact(() => {
    if (victim.parentSub !== null) {
      if (parent instanceof Y.XmlElement && !(parent instanceof Y.Map)) parent.removeAttribute(victim.parentSub)
      else parent.delete(victim.parentSub)
    } else {
      let idx = 0
      for (let it = parent._start; it !== null && it !== victim; it = it.right) {
        if (!it.deleted && it.countable) idx += it.length
      }
      parent.delete(idx, 1)
    }
  })
  // concurrently: edits inside the (now remotely deleted) type
  const n = rng.range(1, 3)
  clients[a].transact(() => {
    for (let i = 0; i < n; i++) {
      const sub = collectTypes(clients[a]).filter(t => t === tA || Y.isParentOf(tA, t._item))
      opOn(rng.pick(sub.length > 0 ? sub : [tA]))
    }
  })
  cov.parentDeleteRaces++
}

// Two clients format overlapping ranges of the same text concurrently (exercises the
// formatting cleanup that yjs runs after remote transactions).
const formatRace = () => {
  const a = rng.int(nClients)
  let b = rng.int(nClients - 1); if (b >= a) b++
  fullSync(a, b); fullSync(b, a)
  const texts = collectTypes(clients[a]).filter(t => t instanceof Y.Text && t.length > 2)
  if (texts.length === 0) return
  const tA = rng.pick(texts)
  const tB = tA._item === null ? clients[b].getText('text') : Y.getItem(clients[b].store, tA._item.id).content.type
  const len = tA.length
  const key = rng.pick(['bold', 'italic', 'color'])
  for (const [doc, t] of [[clients[a], tA], [clients[b], tB]]) {
    const start = rng.range(0, len - 2)
    const l = rng.range(1, len - start)
    const value = key === 'color' ? rng.pick(['#f00', '#0f0', null]) : rng.pick([true, true, null])
    doc.transact(() => {
      t.format(start, l, { [key]: value })
      if (rng.chance(0.3)) t.insert(rng.range(0, t.length), randStr(1), { [key]: value })
    })
  }
  if (rng.chance(0.5)) fullSync(a, b)
  cov.formatRaces++
}

// ---------------------------------------------------------------------------
// Hand-encoded update with ContentJSON (content ref 2), v1 layout:
// [#clients] { [#structs] [client] [clock] struct* } [delete set]
// Item: info byte (ref | BIT8 origin | BIT7 rightOrigin | BIT6 parentSub),
//   origin (client, clock)?, rightOrigin (client, clock)?,
//   if neither: parentInfo (1 => varstring root key | 0 => parent id) and parentSub string when BIT6,
//   ContentJSON: varuint len, len x varstring (JSON text or 'undefined').
const JSON_CONTENTS = [
  ['{"a":1}', 'undefined', '[1,2]'],
  ['"json-string 😀"'],
  ['null', 'true', '3.25', '{"nested":{"k":[null,"x"]},"10":1}'],
  ['-7', '1e+21'],
  ['undefined']
]
const buildJsonUpdate = (clock, content, { origin = null, rightOrigin = null, parentKey = null, parentSub = null }) => {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, 1) // number of clients
  encoding.writeVarUint(enc, 1) // number of structs of this client
  encoding.writeVarUint(enc, jsonClient)
  encoding.writeVarUint(enc, clock)
  const info = 2 | (origin ? 0x80 : 0) | (rightOrigin ? 0x40 : 0) | (parentSub !== null ? 0x20 : 0)
  encoding.writeUint8(enc, info)
  if (origin) { encoding.writeVarUint(enc, origin.client); encoding.writeVarUint(enc, origin.clock) }
  if (rightOrigin) { encoding.writeVarUint(enc, rightOrigin.client); encoding.writeVarUint(enc, rightOrigin.clock) }
  if (!origin && !rightOrigin) {
    encoding.writeVarUint(enc, 1) // parent is a root type, given by its key
    encoding.writeVarString(enc, parentKey)
    if (parentSub !== null) encoding.writeVarString(enc, parentSub)
  }
  encoding.writeVarUint(enc, content.length)
  for (const s of content) encoding.writeVarString(enc, s)
  encoding.writeVarUint(enc, 0) // empty delete set
  return encoding.toUint8Array(enc)
}

const jsonInjection = () => {
  const ci = rng.int(nClients)
  const doc = clients[ci]
  let u, len
  if (rng.chance(0.7)) {
    // into the `array` root, next to a random live item of this client's view
    const content = rng.pick(JSON_CONTENTS)
    len = content.length
    const items = []
    for (let it = doc.getArray('array')._start; it !== null; it = it.right) if (!it.deleted && it.countable) items.push(it)
    const opts = { parentKey: 'array' }
    if (items.length > 0 && rng.chance(0.85)) {
      const it = rng.pick(items)
      const k = rng.int(it.length) // may point inside the item -> receiver must split it
      opts.origin = Y.createID(it.id.client, it.id.clock + k)
      if (k < it.length - 1) opts.rightOrigin = Y.createID(it.id.client, it.id.clock + k + 1)
      else if (it.right) opts.rightOrigin = it.right.id
    } else if (items.length > 0 && rng.chance(0.5)) {
      opts.rightOrigin = items[0].id
    }
    u = buildJsonUpdate(jsonClock, content, opts)
  } else {
    // a map entry of the `map` root
    const content = [rng.pick(['{"a":1}', '"from json"', '[1,{"b":null}]', 'undefined', '12'])]
    len = 1
    const key = rng.pick(MAP_KEYS)
    const left = doc.getMap('map')._map.get(key)
    const opts = { parentKey: 'map', parentSub: key }
    if (left) opts.origin = Y.createID(left.id.client, left.id.clock + left.length - 1)
    u = buildJsonUpdate(jsonClock, content, opts)
  }
  jsonClock += len
  cov.jsonInjections++
  queue.push({ u, delivered: false, kind: 'json', holdUntil: holdFor() })
  if (rng.chance(0.4)) { cov.jsonAppliedToClient++; applyToClient(ci, u) }
}

// ---------------------------------------------------------------------------
// Server and steps
// a server's doc, as in y-websocket and y-partykit: its root types are never accessed (untyped)
const server = new Y.Doc({ gc: GC })
// any local transaction on the server is yjs's own Y.Text formatting cleanup after a remote update
server.on('update', (u, o, d, tr) => { if (tr.local) cov.serverFormattingCleanups++ })
const steps = []
const merges = []
const history = [] // {state, sv} server states from earlier steps (bounded reservoir)
const HISTORY_MAX = 48
const emptyState = Y.encodeStateAsUpdate(new Y.Doc())
const emptySv = Y.encodeStateVector(new Y.Doc())
const clientSvHistory = []

const deliver = (u, kind) => {
  bump(cov.deliveries, kind)
  Y.applyUpdate(server, u)
  const i = steps.length
  const sv = Y.encodeStateVector(server)
  const state = Y.encodeStateAsUpdate(server)
  const pending = pendingOf(server)
  if (pending.structs) cov.stepsPendingStructs++
  if (pending.ds) cov.stepsPendingDs++
  if (pending.structs || pending.ds) cov.stepsAnyPending++
  if (pending.structs) {
    // does a fresh doc built from the state integrate more than the live server did?
    const fresh = newDoc(GC)
    Y.applyUpdate(fresh, state)
    if (!bytesEqual(Y.encodeStateVector(fresh), sv)) cov.stepsStuckPending++
  }
  let probe
  if (history.length === 0 || rng.chance(0.1)) probe = { state: emptyState, sv: emptySv }
  else probe = rng.pick(history)
  const step = { update: b64(u), sv: b64(sv) }
  if (i % STATE_EVERY === 0) step.state = b64(state)
  step.pending = pending
  if (i % PROBE_EVERY === 0) {
    step.probeState = b64(probe.state)
    step.probeSv = b64(probe.sv)
    step.probeDiff = b64(Y.encodeStateAsUpdate(server, probe.sv))
  }
  steps.push(step)
  const h = { state, sv }
  if (history.length < HISTORY_MAX) history.push(h)
  else history[rng.int(HISTORY_MAX)] = h
}

const undelivered = () => queue.filter(q => !q.delivered && q.holdUntil <= steps.length)

let calm = false
const deliveryStep = () => {
  const und = undelivered()
  const delivered = queue.filter(q => q.delivered)
  let kind
  if (und.length === 0) kind = delivered.length > 0 ? 'duplicate' : null
  else if (und.length > 14) kind = rng.weighted([[3, 'batch'], [1, 'random'], [1, 'oldest']])
  else {
    // phases: mostly in-order delivery ('calm') alternating with adversarial shuffling ('storm')
    if (rng.chance(calm ? 0.05 : 0.03)) calm = !calm
    kind = calm
      ? rng.weighted([[8, 'random'], [40, 'oldest'], [25, 'catchup'], [delivered.length > 0 ? 10 : 0, 'duplicate'],
        [5, 'batch'], [10, 'clientDiff']])
      : rng.weighted([[45, 'random'], [15, 'oldest'], [delivered.length > 0 ? 12 : 0, 'duplicate'],
        [20, 'batch'], [5, 'clientDiff']])
  }
  switch (kind) {
    case null: return false
    case 'random': case 'oldest': {
      const q = kind === 'oldest' ? und[0] : rng.pick(und)
      q.delivered = true
      deliver(q.u, q.kind === 'json' ? 'json' : kind)
      break
    }
    case 'catchup': { // the oldest undelivered updates, in order, merged
      const parts = und.slice(0, rng.range(2, 8))
      parts.forEach(q => { q.delivered = true })
      cov.mergedBatchDeliveries++
      deliver(parts.length === 1 ? parts[0].u : Y.mergeUpdates(parts.map(q => q.u)), 'catchup')
      break
    }
    case 'duplicate': {
      cov.duplicateDeliveries++
      deliver(rng.pick(delivered).u, 'duplicate')
      break
    }
    case 'batch': {
      const k = rng.range(2, 6)
      const fromUnd = rng.sample(und, Math.max(1, k - rng.range(0, 2)))
      const fromDel = rng.sample(delivered, k - fromUnd.length)
      if (fromDel.length > 0) cov.mergedBatchesWithDeliveredOverlap++
      const parts = rng.shuffle(fromUnd.concat(fromDel))
      fromUnd.forEach(q => { q.delivered = true })
      cov.mergedBatchDeliveries++
      deliver(Y.mergeUpdates(parts.map(q => q.u)), 'batch')
      break
    }
    case 'clientDiff': {
      // a client answers the server's sync step 1 (everything it has that the server lacks)
      const c = clients[rng.int(nClients)]
      deliver(Y.encodeStateAsUpdate(c, Y.encodeStateVector(server)), 'clientDiff')
      break
    }
  }
  return true
}

const makeMergeEntry = () => {
  if (queue.length < 2) return
  const k = rng.range(2, 6)
  const picks = []
  for (let i = 0; i < k; i++) {
    picks.push(rng.weighted([
      [10, () => rng.pick(queue.slice(-30)).u],
      [3, () => rng.pick(queue).u],
      [1, () => Y.encodeStateAsUpdate(rng.pick(clients))],
      [1, () => Y.encodeStateAsUpdate(rng.pick(clients), rng.chance(0.5) ? Y.encodeStateVector(rng.pick(clients)) : rng.pick(clientSvHistory) || emptySv)],
      [merges.length > 0 ? 1 : 0, () => Buffer.from(rng.pick(merges).merged, 'base64')]
    ])())
  }
  const updates = picks.map(u => new Uint8Array(u))
  const merged = Y.mergeUpdates(updates)
  let probeSv = rng.weighted([
    [3, () => Y.encodeStateVector(rng.pick(clients))],
    [3, () => rng.pick(clientSvHistory) || emptySv],
    [2, () => Y.encodeStateVectorFromUpdate(Y.mergeUpdates(rng.sample(updates, rng.range(1, updates.length))))],
    [1, () => emptySv]
  ])()
  const diff = Y.diffUpdate(merged, probeSv)
  if (Y.decodeUpdate(merged).structs.some(s => s instanceof Y.Skip)) cov.mergesWithSkips++
  cov.merges++
  merges.push({
    updates: updates.map(b64),
    merged: b64(merged),
    probeSv: b64(probeSv),
    diff: b64(diff),
    svFromUpdate: b64(Y.encodeStateVectorFromUpdate(merged))
  })
}

/** Histogram of struct / content kinds (and special Any values) in some updates. */
const structKinds = (updates) => {
  const h = {}
  const anyScan = (v) => {
    if (typeof v === 'bigint') bump(h, 'any:bigint')
    else if (v instanceof Uint8Array) bump(h, 'any:binary')
    else if (v === undefined) bump(h, 'any:undefined')
    else if (typeof v === 'number' && !Number.isInteger(v)) bump(h, 'any:float')
    else if (Array.isArray(v)) v.forEach(anyScan)
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(anyScan)
  }
  for (const u of updates) {
    const { structs, ds } = Y.decodeUpdate(new Uint8Array(u))
    if (ds.clients.size > 0) bump(h, 'deleteSet')
    for (const s of structs) {
      if (s instanceof Y.Item) {
        bump(h, s.content.constructor.name)
        if (s.content instanceof Y.ContentAny) s.content.arr.forEach(anyScan)
        if (s.content instanceof Y.ContentString && s.content.str.includes('\uFFFD')) bump(h, 'stringWithFFFD')
      } else bump(h, s.constructor.name)
    }
  }
  return h
}

// ---------------------------------------------------------------------------
// Main loop
const targetMerges = Math.max(1, Math.round(NSTEPS / 10))
while (steps.length < NSTEPS) {
  const nTx = rng.weighted([[3, 0], [6, 1], [2, 2], [0.5, 3]])
  for (let i = 0; i < nTx; i++) clientTransaction(rng.int(nClients))
  if (rng.chance(0.25)) syncClients()
  if (rng.chance(0.06)) parentDeleteRace()
  if (rng.chance(0.05)) formatRace()
  if (rng.chance(0.025) || (cov.jsonInjections === 0 && steps.length > NSTEPS / 3)) jsonInjection()
  if (rng.chance(0.2)) clientSvHistory.push(Y.encodeStateVector(rng.pick(clients)))
  if (merges.length < targetMerges && rng.chance(0.12)) makeMergeEntry()
  if (!deliveryStep()) clientTransaction(rng.int(nClients))
  checkClientIds()
}
while (merges.length < targetMerges) makeMergeEntry()
// final flush: everything not yet delivered, in shuffled merged batches
{
  let und = rng.shuffle(queue.filter(q => !q.delivered))
  while (und.length > 0) {
    const batch = und.slice(0, rng.range(4, 10))
    und = und.slice(batch.length)
    batch.forEach(q => { q.delivered = true })
    cov.mergedBatchDeliveries++
    deliver(batch.length === 1 ? batch[0].u : Y.mergeUpdates(batch.map(q => q.u)), 'flush')
  }
}

// Sanity: the server must be complete and equal to a doc holding every update.
{
  const p = pendingOf(server)
  if (p.structs || p.ds) throw new Error('server still has pending data after the final flush: ' + JSON.stringify(p))
  const all = newDoc(GC)
  for (const q of queue) Y.applyUpdate(all, q.u)
  // Not an invariant: yjs's Y.Text formatting cleanup after remote transactions deletes
  // format items locally, so the result depends on the order updates arrive in.
  if (contentOf(all) !== contentOf(server)) {
    cov.serverDiffersFromInOrderDoc = 1
    if (!args.quiet) console.error('note: server content differs from an in-order doc (formatting cleanup is order dependent): ' + describeDiff(contentOf(all), contentOf(server), 40))
  }
  const txt = contentOf(server)
  cov.fffdInFinalServer = (txt.match(/\uFFFD/g) || []).length
  cov.finalStateStructs = structKinds([Y.encodeStateAsUpdate(server)])
  cov.mergedStructs = structKinds(merges.map(m => Buffer.from(m.merged, 'base64')))
}

const trace = {
  version: 1,
  seed: SEED,
  gc: GC,
  roots: ROOTS,
  generator: { yjs: '13.6.33', clients: clientIds, jsonClient, stateEvery: STATE_EVERY },
  steps,
  merges
}
const json = JSON.stringify(trace)
writeFileSync(args.out, json)
cov.steps = steps.length
cov.mergeEntries = merges.length
cov.queueSize = queue.length
cov.traceBytes = json.length
cov.ms = Date.now() - t0
if (!args.quiet) console.error('gen coverage: ' + JSON.stringify(cov))
