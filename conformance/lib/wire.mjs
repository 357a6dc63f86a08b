// y-protocols messages written by hand, with no dependencies: varUint / varString / varBytes and the
// sync and awareness framing, byte for byte what lib0/encoding and y-protocols write (and a reader of
// the same). Shared by conformance/pressure and bench/load, which have node_modules of their own.

export const MSG_SYNC = 0
export const MSG_AWARENESS = 1
export const MSG_AUTH = 2
export const MSG_QUERY_AWARENESS = 3
export const SYNC_STEP1 = 0
export const SYNC_STEP2 = 1
export const SYNC_UPDATE = 2

const utf8 = new TextEncoder()
// as lib0 decodes: invalid UTF-8 throws
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Bytes of the varUint of n (an integer 0 .. 2^53). */
export const varUintSize = (n) => {
  let s = 1
  while (n > 0x7f) { n = Math.floor(n / 128); s++ }
  return s
}

/** Writes the varUint of n into buf at pos; returns the position after it. */
export const writeVarUintAt = (buf, pos, n) => {
  while (n > 0x7f) { buf[pos++] = 0x80 | (n % 128); n = Math.floor(n / 128) }
  buf[pos++] = n
  return pos
}

/** The parts (byte arrays, or numbers for single bytes) one after another, in a new Uint8Array. */
export const concat = (...parts) => {
  let len = 0
  for (const p of parts) len += typeof p === 'number' ? 1 : p.length
  const out = new Uint8Array(len)
  let pos = 0
  for (const p of parts) {
    if (typeof p === 'number') out[pos++] = p
    else { out.set(p, pos); pos += p.length }
  }
  return out
}

export const varUint = (n) => {
  const out = new Uint8Array(varUintSize(n))
  writeVarUintAt(out, 0, n)
  return out
}

/** varUint(length) then the bytes. */
export const varBytes = (bytes) => concat(varUint(bytes.length), bytes)

/** varUint(UTF-8 length) then the UTF-8 bytes. */
export const varString = (s) => varBytes(utf8.encode(s))

/** [0, sub, varBytes(payload)]: a sync message. */
export const syncMessage = (sub, payload) => concat(MSG_SYNC, sub, varBytes(payload))
/** Sync step 1 of a client whose state vector (Y.encodeStateVector) is sv. */
export const syncStep1Message = (sv) => syncMessage(SYNC_STEP1, sv)
/** Sync step 2: the update (Y.encodeStateAsUpdate) answering a step 1. */
export const syncStep2Message = (update) => syncMessage(SYNC_STEP2, update)
/** [0, 2, varBytes(update)]: a sync update message, as a provider sends one per transaction. */
export const syncUpdateMessage = (update) => syncMessage(SYNC_UPDATE, update)

/** [1, varBytes(update)]: an awareness message carrying an encoded awareness update. */
export const awarenessMessage = (update) => concat(MSG_AWARENESS, varBytes(update))

/** An awareness message of one client: [1, varBytes([1, id, clock, varString(json)])] ("null" removes it). */
export const awarenessStateMessage = (clientId, clock, json) =>
  awarenessMessage(concat(1, varUint(clientId), varUint(clock), varString(json)))

/**
 * One awareness message announcing `count` client ids from `firstId` on (clock 1, state "{}"),
 * written straight into one array: 3,000,000 ids are about 23 MB.
 */
export const awarenessFloodMessage = (firstId, count) => {
  const state = utf8.encode('{}')
  let inner = varUintSize(count)
  for (let i = 0; i < count; i++) inner += varUintSize(firstId + i) + 1 + varUintSize(state.length) + state.length
  const buf = new Uint8Array(1 + varUintSize(inner) + inner)
  let p = 0
  buf[p++] = MSG_AWARENESS
  p = writeVarUintAt(buf, p, inner)
  p = writeVarUintAt(buf, p, count)
  for (let i = 0; i < count; i++) {
    p = writeVarUintAt(buf, p, firstId + i)
    buf[p++] = 1
    p = writeVarUintAt(buf, p, state.length)
    buf.set(state, p)
    p += state.length
  }
  if (p !== buf.length) throw new Error(`flood length ${p} != ${buf.length}`)
  return buf
}

/** Reads varUints, varBytes and varStrings from bytes; throws past the end or on invalid UTF-8. */
export class Reader {
  constructor (bytes) {
    this.bytes = bytes
    this.pos = 0
  }

  varUint () {
    const b = this.bytes
    let num = 0
    let mult = 1
    while (this.pos < b.length) {
      const r = b[this.pos++]
      num += (r & 0x7f) * mult
      mult *= 128
      if (r < 0x80) return num
      if (num > Number.MAX_SAFE_INTEGER) throw new Error('varUint out of range')
    }
    throw new Error('unexpected end of message')
  }

  varBytes () {
    const len = this.varUint()
    if (this.pos + len > this.bytes.length) throw new Error('unexpected end of message')
    const out = this.bytes.subarray(this.pos, this.pos + len)
    this.pos += len
    return out
  }

  varString () {
    return utf8Strict.decode(this.varBytes())
  }
}

/**
 * Calls fn(clientId, clock, json) for every entry of an awareness message (its type varUint is read
 * and not checked); returns the number of entries.
 */
export const forEachAwarenessEntry = (message, fn) => {
  const r = new Reader(message)
  r.varUint() // MSG_AWARENESS
  const inner = new Reader(r.varBytes())
  const n = inner.varUint()
  for (let i = 0; i < n; i++) {
    const id = inner.varUint()
    const clk = inner.varUint()
    fn(id, clk, inner.varString())
  }
  return n
}

/** The entries [{id, clock, state}] of an awareness message, or null when it is another message or malformed. */
export const awarenessEntries = (message) => {
  try {
    if (new Reader(message).varUint() !== MSG_AWARENESS) return null
    const out = []
    forEachAwarenessEntry(message, (id, clock, state) => out.push({ id, clock, state }))
    return out
  } catch (e) {
    return null
  }
}
