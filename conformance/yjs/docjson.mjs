#!/usr/bin/env node
// Reference renders for the Java DocJson: what yjs shows a client that reads the roots of the
// server's document with a given type, at some steps of a trace.
// Usage: node docjson.mjs <trace.json[.gz]> --at <step,step,...> [--names a,b,...] [--fresh] --out <file.json>
//
// At every checkpoint step s, each kind (text, map, array, xml) reads every name from a doc that
// has applied the trace's updates 0..s as the server received them: getText(name).toString(),
// getMap(name).toJSON(), getArray(name).toJSON(), getXmlFragment(name).toString(). One doc per
// kind, because yjs refuses to read a root with two types. Reading a root types it, and a typed
// root Y.Text runs yjs's formatting cleanup after later remote updates (an untyped server root
// does not), so the text kind replays a fresh doc for every checkpoint; a typed Y.Map, Y.Array or
// Y.XmlFragment root changes nothing, so those kinds keep applying to one doc. Output:
//   { "checkpoints": [ { "step": s,
//       "request": { "text": [names], "map": [...], "array": [...], "xml": [...] },   // names yjs could render
//       "json": "<JSON.stringify({text: {name: ...}, map: {...}, array: {...}, xml: {...}}, bigint as string)>",
//       "threw": { "<kind>": { "<name>": "<error message>" } } } ] }
// A (kind, name) whose read throws in yjs (an XML fragment holding null, for instance) is left out
// of `request` and `json` and reported in `threw`.
import * as Y from 'yjs'
import { readFileSync, writeFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { parseArgs } from 'node:util'
import { unb64, getRoot } from './lib.mjs'

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    at: { type: 'string' },
    names: { type: 'string', default: 'text,map,array,xml,10,nope' },
    fresh: { type: 'boolean', default: false }, // a fresh doc for every kind and checkpoint (checks the shortcut)
    out: { type: 'string' }
  }
})
if (positionals.length !== 1 || args.at == null || args.out == null) {
  console.error('usage: node docjson.mjs <trace.json[.gz]> --at <step,step,...> [--names a,b,...] --out <file.json>')
  process.exit(2)
}
const file = positionals[0]
const raw = readFileSync(file)
const trace = JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'))
const gc = trace.gc !== false
const updates = trace.steps.map(s => unb64(s.update))
const names = args.names.split(',')
const KINDS = ['text', 'map', 'array', 'xml']

/** What a client sees of root `name` read as `kind`. */
const read = (doc, name, kind) => {
  const t = getRoot(doc, name, kind)
  return kind === 'text' || kind === 'xml' ? t.toString() : t.toJSON()
}

/** JSON.stringify throws on a bigint; DocJson writes its decimal digits as a string. */
const replacer = (k, v) => typeof v === 'bigint' ? v.toString() : v

const steps = args.at.split(',').map(s => parseInt(s, 10))
for (let i = 0; i < steps.length; i++) {
  if (!(steps[i] >= 0 && steps[i] < updates.length)) throw new Error(`checkpoint ${steps[i]} outside the trace (0..${updates.length - 1})`)
  if (i > 0 && steps[i] <= steps[i - 1]) throw new Error('checkpoints must ascend')
}
/** Per kind: a doc and how many updates it has applied. */
const docs = Object.fromEntries(KINDS.map(k => [k, { doc: new Y.Doc({ gc }), applied: 0 }]))
const docAt = (kind, step) => {
  let d = docs[kind]
  if (kind === 'text' || args.fresh) d = { doc: new Y.Doc({ gc }), applied: 0 }
  for (; d.applied <= step; d.applied++) Y.applyUpdate(d.doc, updates[d.applied])
  return d.doc
}

const checkpoints = []
for (const step of steps) {
  const result = {}
  const request = {}
  const threw = {}
  for (const kind of KINDS) {
    const doc = docAt(kind, step)
    result[kind] = {}
    request[kind] = []
    for (const name of names) {
      try {
        result[kind][name] = read(doc, name, kind)
        request[kind].push(name)
      } catch (e) {
        threw[kind] = threw[kind] || {}
        threw[kind][name] = String(e && e.message)
      }
    }
  }
  checkpoints.push({ step, request, json: JSON.stringify(result, replacer), threw })
}
writeFileSync(args.out, JSON.stringify({ checkpoints }))
