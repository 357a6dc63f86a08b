// Shared helpers for gen.mjs / check.mjs / selftest.mjs.
import * as Y from 'yjs'

export const ROOTS = { text: 'text', map: 'map', array: 'array', xml: 'xml' }

export const b64 = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('base64')
export const unb64 = (s) => new Uint8Array(Buffer.from(s, 'base64'))

export const bytesEqual = (a, b) => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Create a doc with the root types declared by kind (before anything is applied). */
export const newDoc = (gc, roots = ROOTS) => {
  const doc = new Y.Doc({ gc })
  declareRoots(doc, roots)
  return doc
}

export const declareRoots = (doc, roots = ROOTS) => {
  for (const [name, kind] of Object.entries(roots)) getRoot(doc, name, kind)
}

export const getRoot = (doc, name, kind) => {
  switch (kind) {
    case 'text': return doc.getText(name)
    case 'map': return doc.getMap(name)
    case 'array': return doc.getArray(name)
    case 'xml': return doc.getXmlFragment(name)
    default: throw new Error('unknown root kind ' + kind)
  }
}

/** { structs: {client: clock} | null, ds: bool } */
export const pendingOf = (doc) => {
  const ps = doc.store.pendingStructs
  return {
    structs: ps ? Object.fromEntries([...ps.missing].map(([k, v]) => [String(k), v])) : null,
    ds: doc.store.pendingDs != null
  }
}

export const pendingEqual = (a, b) => {
  if (a == null || b == null) return false
  if (!!a.ds !== !!b.ds) return false
  if (a.structs == null || b.structs == null) return a.structs == null && b.structs == null
  const ka = Object.keys(a.structs).sort()
  const kb = Object.keys(b.structs).sort()
  if (ka.length !== kb.length) return false
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i] || a.structs[ka[i]] !== b.structs[kb[i]]) return false
  }
  return true
}

export const svToString = (sv) => JSON.stringify([...sv.entries()].sort((a, b) => a[0] - b[0]))
export const svMapEqual = (a, b) => svToString(a) === svToString(b)

const hex = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex')

/**
 * Canonical, tagged, JSON-serialisable description of a value found in a yjs document.
 * Stronger than toJSON: keeps formatting, embeds, -0/NaN, bigint, binary, undefined,
 * subdocument identity (guid/meta/autoLoad) and the exact kind of each nested type.
 */
export const snapValue = (v) => {
  if (v === undefined) return { $undef: 1 }
  if (v === null) return null
  switch (typeof v) {
    case 'boolean': return v
    case 'string': return v
    case 'bigint': return { $bigint: v.toString() }
    case 'number':
      if (Object.is(v, -0)) return { $num: '-0' }
      if (!Number.isFinite(v)) return { $num: String(v) }
      return v
    case 'object': break
    default: return { $unknown: String(v) }
  }
  if (v instanceof Uint8Array) return { $bin: hex(v) }
  if (v instanceof Y.Doc) {
    return { $doc: v.guid, meta: snapValue(v.meta === undefined ? null : v.meta), autoLoad: !!v.autoLoad, gc: !!v.gc }
  }
  if (v instanceof Y.XmlHook) {
    return { $hook: v.hookName, entries: [...v.entries()].sort((a, b) => cmpStr(a[0], b[0])).map(([k, x]) => [k, snapValue(x)]) }
  }
  if (v instanceof Y.Map) {
    return { $map: [...v.entries()].sort((a, b) => cmpStr(a[0], b[0])).map(([k, x]) => [k, snapValue(x)]) }
  }
  if (v instanceof Y.Array) return { $array: v.toArray().map(snapValue) }
  if (v instanceof Y.XmlText) return { $xmltext: snapDelta(v.toDelta()) }
  if (v instanceof Y.Text) return { $text: snapDelta(v.toDelta()) }
  if (v instanceof Y.XmlElement) {
    return { $el: v.nodeName, attrs: snapValue(v.getAttributes()), children: v.toArray().map(snapValue) }
  }
  if (v instanceof Y.XmlFragment) return { $frag: v.toArray().map(snapValue) }
  if (v instanceof Y.AbstractType) return { $abstract: v.constructor.name }
  if (Array.isArray(v)) return v.map(snapValue)
  // plain object (key order is irrelevant)
  return { $obj: Object.keys(v).sort(cmpStr).map(k => [k, snapValue(v[k])]) }
}

const cmpStr = (a, b) => (a < b ? -1 : a > b ? 1 : 0)

const snapDelta = (delta) => delta.map(op => {
  const o = { insert: typeof op.insert === 'string' ? op.insert : { $embed: snapValue(op.insert) } }
  if (op.attributes && Object.keys(op.attributes).length > 0) o.attributes = snapValue(op.attributes)
  return o
})

/** Canonical content string of a doc for the given roots. */
export const contentOf = (doc, roots = ROOTS) => {
  const out = {}
  for (const name of Object.keys(roots).sort()) {
    const kind = roots[name]
    const t = getRoot(doc, name, kind)
    switch (kind) {
      case 'text':
        out[name] = { delta: snapDelta(t.toDelta()), string: t.toString() }
        break
      case 'xml':
        out[name] = { string: t.toString(), tree: snapValue(t) }
        break
      default:
        out[name] = snapValue(t)
    }
  }
  return JSON.stringify(out)
}

/** Short human description of where two canonical strings differ. */
export const describeDiff = (expected, actual, ctx = 70) => {
  let i = 0
  while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++
  const s = Math.max(0, i - ctx)
  return `first difference at char ${i}: expected …${JSON.stringify(expected.slice(s, i + ctx))}… got …${JSON.stringify(actual.slice(s, i + ctx))}… (lengths ${expected.length}/${actual.length})`
}

/** Apply updates to a fresh doc; returns the doc (throws on malformed input). */
export const docFrom = (gc, updates, roots = ROOTS) => {
  const doc = newDoc(gc, roots)
  for (const u of updates) Y.applyUpdate(doc, u)
  return doc
}
