// The fuzz scenario's material (pressure.mjs fuzz): y-protocols traffic recorded from real yjs docs
// and y-protocols awareness, and a seeded generator of messages made from it: the recorded messages,
// mutations of them (bit flips, truncation, inflated lengths, huge varints, unknown types, splices,
// lying counts), y-pk-batch sequences (true ones and lying ones), and random text frames.
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as wire from '../lib/wire.mjs'

/** A small seeded PRNG (mulberry32): the same seed, the same messages. */
export const prng = (seed) => {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const r = {
    next,
    int: (n) => Math.floor(next() * n), // 0 .. n-1
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
    bytes: (n) => { const b = Buffer.allocUnsafe(n); for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256); return b }
  }
  return r
}

/** The generator works on Buffers. */
const frame = (bytes) => Buffer.from(bytes)
const varUint = (n) => frame(wire.varUint(n))

/** Scales the share of real updates (a measuring aid: FUZZ_UPDATES=0 leaves the journal out). */
const UPDATES = Number(process.env.FUZZ_UPDATES ?? 1)

const WORDS = ['lorem', 'ipsum', 'Ripple', 'yjs', 'é', 'ß', '日本語', '😀', '👩‍👩‍👧', 'Ω', '\n', ' ', 'tab\t', '"quoted"', '\\', '{}', '​']

/**
 * Real traffic: six docs edited at random (text with formatting and embeds, maps with every value
 * kind, arrays, nested types, XML), exchanging updates now and then so items refer to other
 * clients; each local transaction's update as a sync update message, sync step 1 and step 2
 * messages, and each doc's awareness states as y-protocols encodes them.
 */
export const recordCorpus = (rng) => {
  const updates = []
  const step1 = []
  const step2 = []
  const awareness = new Map() // client id -> awareness messages, clocks increasing
  const docs = []
  for (let i = 0; i < 6; i++) {
    const d = new Y.Doc()
    d.clientID = 7000 + i
    d.on('update', (u, origin) => { if (origin !== 'remote') updates.push(frame(wire.syncUpdateMessage(u))) })
    docs.push(d)
  }
  const word = () => rng.pick(WORDS) + (rng.chance(0.5) ? rng.int(1000) : '')
  const value = (depth = 0) => {
    switch (rng.int(depth > 1 ? 6 : 8)) {
      case 0: return rng.int(1e6)
      case 1: return rng.next() * 1e9 - 5e8
      case 2: return word()
      case 3: return rng.chance(0.5)
      case 4: return null
      case 5: return new Uint8Array(rng.bytes(rng.int(16)))
      case 6: return { a: value(depth + 1), b: [value(depth + 1), value(depth + 1)] }
      default: return [value(depth + 1), word()]
    }
  }
  const edit = (d) => {
    const text = d.getText('text')
    const map = d.getMap('map')
    const arr = d.getArray('list')
    const xml = d.getXmlFragment('prosemirror')
    switch (rng.int(10)) {
      case 0: case 1: text.insert(rng.int(text.length + 1), word(), rng.chance(0.2) ? { bold: true } : undefined); break
      case 2: if (text.length > 2) { const at = rng.int(text.length - 1); text.delete(at, 1 + rng.int(Math.min(5, text.length - at - 1))) } break
      case 3: if (text.length > 2) { const at = rng.int(text.length - 1); text.format(at, 1 + rng.int(text.length - at - 1), rng.chance(0.5) ? { italic: true } : { bold: null }) } else text.insertEmbed(0, { image: word() }); break
      case 4: map.set(word(), value()); break
      case 5: if (map.size) map.delete(rng.pick([...map.keys()])); else map.set('nested', new Y.Map()); break
      case 6: arr.insert(rng.int(arr.length + 1), [value(), value()]); break
      case 7: if (arr.length) arr.delete(rng.int(arr.length)); else arr.push([new Y.Text(word())]); break
      case 8: {
        const p = new Y.XmlElement('paragraph')
        p.setAttribute('data-id', word())
        p.insert(0, [new Y.XmlText(word())])
        xml.insert(rng.int(xml.length + 1), [p])
        break
      }
      default: d.transact(() => { text.insert(0, word()); map.set('t', rng.int(100)); arr.push([word()]) })
    }
  }
  for (let round = 0; round < 40; round++) {
    for (const d of docs) {
      edit(d)
      if (rng.chance(0.1)) {
        const other = rng.pick(docs)
        if (other !== d) Y.applyUpdate(other, Y.encodeStateAsUpdate(d, Y.encodeStateVector(other)), 'remote')
      }
      if (rng.chance(0.05)) step1.push(frame(wire.syncStep1Message(Y.encodeStateVector(d))))
      if (rng.chance(0.03)) {
        const other = rng.pick(docs)
        const m = frame(wire.syncStep2Message(Y.encodeStateAsUpdate(d, Y.encodeStateVector(other))))
        if (m.length <= 1500) step2.push(m)
      }
    }
  }
  for (const d of docs) {
    const aw = new awarenessProtocol.Awareness(d)
    const list = []
    for (let k = 0; k < 40; k++) {
      aw.setLocalState({ user: { name: word(), color: '#' + rng.int(0xffffff).toString(16).padStart(6, '0') }, cursor: { anchor: rng.int(500), head: rng.int(500) } })
      list.push(frame(wire.awarenessMessage(awarenessProtocol.encodeAwarenessUpdate(aw, [d.clientID]))))
    }
    aw.setLocalState(null)
    list.push(frame(wire.awarenessMessage(awarenessProtocol.encodeAwarenessUpdate(aw, [d.clientID]))))
    aw.destroy()
    awareness.set(d.clientID, list)
  }
  // [2, 0, varString(reason)]: y-protocols auth, permission denied
  const auth = [frame(wire.concat(wire.MSG_AUTH, 0, wire.varString('permission denied')))]
  docs.forEach((d) => d.destroy())
  return { updates, step1, step2, awareness, auth }
}

/** The varUint at the start of b: [value, length], or null when it runs past the end or past 2^53. */
const leadVarUint = (b) => {
  let n = 0
  let mult = 1
  for (let i = 0; i < b.length && i < 10; i++) {
    n += (b[i] & 0x7f) * mult
    if (b[i] < 0x80) return [n, i + 1]
    mult *= 128
  }
  return null
}

/** Messages of one connection, drawn from the corpus; `ownIds` are the corpus awareness ids it may speak for. */
export class Generator {
  constructor (corpus, rng, ownIds) {
    this.c = corpus
    this.rng = rng
    this.awareness = ownIds.flatMap((id) => corpus.awareness.get(id))
    this.all = [...corpus.updates, ...corpus.step1, ...corpus.step2, ...this.awareness, ...corpus.auth]
    this.batchId = 0
    this.cursor = 0
    const r = rng
    /** [weight, kind, make() -> array of {data, text?}] */
    this.kinds = [
      // real traffic, as recorded: updates in their order (after one pass, duplicates), and some out of order
      [10 * UPDATES, 'update', () => [this.bin(this.c.updates[this.cursor++ % this.c.updates.length])]],
      [2 * UPDATES, 'update-any', () => [this.bin(r.pick(this.c.updates))]],
      [6, 'awareness', () => [this.bin(r.pick(this.awareness))]],
      [2, 'step1', () => [this.bin(r.pick(this.c.step1))]],
      [1, 'step2', () => [this.bin(r.pick(this.c.step2))]],
      [1, 'auth', () => [this.bin(this.c.auth[0])]],
      // ignorable, as y-protocols says: unknown message types and text frames that are not batch markers
      [14, 'unknown-type', () => [this.bin(this.unknownType(r.chance(0.5) ? r.pick(this.all) : r.bytes(r.int(64))))]],
      [14, 'text', () => [{ data: this.randomText(), text: true }]],
      // real traffic with bytes after the message (readers stop at the message's end)
      [8, 'trailing', () => [this.bin(Buffer.concat([r.pick(this.all), r.bytes(1 + r.int(32))]))]],
      // true y-pk-batch sequences around a real message
      [3, 'batch', () => this.batch(r.pick(this.all), null)],
      // the mutations that break messages (most close the connection)
      [2.5, 'bitflip', () => [this.bin(this.bitflip(r.pick(this.all)))]],
      [1.2, 'truncate', () => [this.bin(this.truncate(r.pick(this.all)))]],
      [1, 'inflate-length', () => [this.bin(this.inflate(r.pick(this.all)))]],
      [1, 'huge-varint', () => [this.bin(this.hugeVarint(r.pick(this.all)))]],
      [0.6, 'lying-count', () => [this.bin(this.lyingCount(r.pick(this.all)))]],
      [0.6, 'splice', () => [this.bin(Buffer.concat([r.pick(this.all).subarray(0, r.int(40)), r.pick(this.all).subarray(r.int(20))]))]],
      [0.5, 'overwrite', () => [this.bin(this.overwrite(r.pick(this.all)))]],
      [0.6, 'lying-batch', () => this.batch(r.pick(this.all), r.int(9))],
      [0.4, 'bad-marker', () => [{ data: this.badMarker(), text: true }]],
      [0.4, 'random-binary', () => [this.bin(r.bytes(1 + r.int(200)))]],
      [0.2, 'invalid-utf8-text', () => [{ data: Buffer.from([0x61, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc]).subarray(r.int(4)), text: true, raw: true }]],
      [0.2, 'empty', () => [this.bin(Buffer.alloc(0))]]
    ]
    // benign: real traffic and what y-protocols says to ignore; nasty: the mutations that break
    // messages (most close the connection), from 'bitflip' on
    const firstNasty = this.kinds.findIndex((k) => k[1] === 'bitflip')
    this.benign = this.kinds.slice(0, firstNasty)
    this.nasty = this.kinds.slice(firstNasty)
  }

  /** The next group of messages to send, with its kind: a benign one, or with nasty, a breaking one. */
  next (nasty = false) {
    const kinds = nasty ? this.nasty : this.benign
    let x = this.rng.next() * kinds.reduce((a, k) => a + k[0], 0)
    for (const [w, kind, make] of kinds) {
      if ((x -= w) < 0) return { kind, messages: make() }
    }
    const last = kinds[kinds.length - 1]
    return { kind: last[1], messages: last[2]() }
  }

  /**
   * A binary message, never one the server would read as a query-awareness (type 3): those are the
   * connection's probes, and each must get exactly one answer.
   */
  bin (b) {
    const lead = leadVarUint(b)
    if (lead && lead[0] === 3) b = Buffer.concat([Buffer.from([4]), b.subarray(lead[1])])
    return { data: b }
  }

  unknownType (payload) {
    const r = this.rng
    const type = r.pick([2, 4 + r.int(124), 128 + r.int(16000), 2 ** 32 + r.int(1000), 2 ** 52 + r.int(1000)])
    return Buffer.concat([varUint(type), payload])
  }

  bitflip (m) {
    const b = Buffer.from(m)
    if (b.length === 0) return b
    for (let i = 1 + this.rng.int(3); i > 0; i--) b[this.rng.int(b.length)] ^= 1 << this.rng.int(8)
    return b
  }

  truncate (m) {
    return Buffer.from(m.subarray(0, this.rng.int(m.length)))
  }

  /** Replaces the varint at a position near the front (where lengths and counts live) with a larger one. */
  inflate (m) {
    const r = this.rng
    const at = Math.min(m.length, r.pick([1, 2, 3, r.int(m.length + 1)]))
    const lead = leadVarUint(m.subarray(at))
    const old = lead ? lead[0] : 0
    const len = lead ? lead[1] : 0
    const bigger = old + r.pick([1, 2, 100, 65536, 2 ** 31, 2 ** 32 + 5, 2 ** 50])
    return Buffer.concat([m.subarray(0, at), varUint(bigger), m.subarray(at + len)])
  }

  /** A varint of 5 to 10 bytes (or one that never ends) somewhere in the message. */
  hugeVarint (m) {
    const r = this.rng
    const at = r.int(m.length + 1)
    const n = 5 + r.int(6)
    const v = Buffer.alloc(n, 0xff)
    if (r.chance(0.7)) v[n - 1] = r.pick([0x7f, 0x01, 0x0f])
    return r.chance(0.3) ? Buffer.concat([m, v.fill(0x80)]) : Buffer.concat([m.subarray(0, at), v, m.subarray(at)])
  }

  /** The first count inside the payload (awareness: number of states; update: number of clients) made huge. */
  lyingCount (m) {
    const type = leadVarUint(m)
    if (!type) return m
    let at = type[1]
    if (type[0] === 0) { const sub = leadVarUint(m.subarray(at)); if (!sub) return m; at += sub[1] }
    const len = leadVarUint(m.subarray(at))
    if (!len) return m
    at += len[1]
    const count = leadVarUint(m.subarray(at))
    const clen = count ? count[1] : 0
    return Buffer.concat([m.subarray(0, at), varUint(this.rng.pick([2 ** 20, 2 ** 31, 2 ** 40, 1e15])), m.subarray(at + clen)])
  }

  overwrite (m) {
    const b = Buffer.from(m)
    for (let i = 1 + this.rng.int(4); i > 0 && b.length; i--) b[this.rng.int(b.length)] = this.rng.pick([0x00, 0xff, 0x80, 0x7f, this.rng.int(256)])
    return b
  }

  /**
   * A y-pk-batch sequence around message m split into chunks: true when lie is null, else one of
   * nine lies (sizes, counts, ids, missing or doubled markers, limits far past the server's).
   */
  batch (m, lie) {
    const r = this.rng
    const id = `fz${(this.batchId++).toString(36)}${r.int(1e6).toString(36)}`
    const n = Math.max(1, Math.min(m.length, 1 + r.int(4)))
    const chunks = []
    const step = Math.ceil(m.length / n) || 1
    for (let i = 0; i < m.length; i += step) chunks.push({ data: Buffer.from(m.subarray(i, i + step)) })
    if (chunks.length === 0) chunks.push({ data: Buffer.alloc(0) })
    const marker = (o) => ({ data: 'y-pk-batch#' + JSON.stringify(o), text: true })
    let start = { id, type: 'start', size: m.length, count: chunks.length }
    let end = { id, type: 'end', size: m.length, count: chunks.length }
    let body = chunks
    switch (lie) {
      case null: break
      case 0: start = { ...start, size: start.size + 1 + r.int(100) }; end = { ...end, size: start.size }; break
      case 1: start = { ...start, count: start.count + 1 }; end = { ...end, count: start.count }; break
      case 2: end = { ...end, id: id + 'x' }; break
      case 3: end = { ...end, size: end.size - 1 }; break
      case 4: body = [...chunks, { data: r.bytes(1 + r.int(30)) }]; break // one chunk more than announced
      case 5: return [marker(start), ...chunks] // never ends: the next messages become chunks
      case 6: return [marker(end)] // end without start
      case 7: start = { ...start, size: r.pick([2 ** 40, 64 * 1024 * 1024, -1, 1.5, 'big']) }; break
      default: start = { ...start, count: r.pick([10 ** 9, 5000, -3, 0]) }
    }
    return [marker(start), ...body, marker(end)]
  }

  badMarker () {
    const r = this.rng
    return r.pick([
      () => 'y-pk-batch',
      () => 'y-pk-batch#',
      () => 'y-pk-batch#{',
      () => 'y-pk-batch#null',
      () => 'y-pk-batch#[1,2,3]',
      () => 'y-pk-batch#' + JSON.stringify({ id: r.int(1e6), type: r.pick(['middle', 'START', '', null, 7]), size: r.int(1000), count: 1 }),
      () => 'y-pk-batch#' + JSON.stringify({ type: 'start' }),
      () => 'y-pk-batch#' + JSON.stringify({ id: 'x', type: 'start', size: '10x', count: 'one' }),
      () => 'y-pk-batch#' + '{"id":"' + 'a'.repeat(100) + '","type":"start","size":1e308,"count":1}',
      () => 'y-pk-batch#' + JSON.stringify({ id: 'y', type: 'start', size: 10, count: 1 }).slice(0, 10 + r.int(20))
    ])()
  }

  randomText () {
    const r = this.rng
    return r.pick([
      () => r.bytes(1 + r.int(80)).toString('latin1'),
      () => Array.from({ length: 1 + r.int(12) }, () => r.pick(WORDS)).join(''),
      () => JSON.stringify({ type: r.pick(['sync', 'awareness', 'ping', 'y-pk-batch']), data: r.int(1e9) }),
      () => 'Y-PK-BATCH#' + JSON.stringify({ id: 'a', type: 'start', size: 3, count: 1 }),
      () => ' y-pk-batch#{"type":"start"}',
      () => 'y-pk-batc#' + r.int(1e9),
      () => 'ping',
      () => '',
      () => String.fromCodePoint(...Array.from({ length: 1 + r.int(20) }, () => r.int(0x10ffff + 1)).filter((c) => c < 0xd800 || c > 0xdfff))
    ])()
  }
}
