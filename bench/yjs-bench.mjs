#!/usr/bin/env node
// The yjs half of the benchmark, on the same files as the JMH benchmarks (make-trace.mjs writes them).
//
//   node --expose-gc yjs-bench.mjs [--out out] [--apply-warmup 3] [--apply-rounds 8] [--encode-seconds 5] [--copies 8]
//                                  [--base base-clients.bin --only apply --json yjs-base.json]
//   (--base: the trace is applied on top of that state, untimed; --only apply: no encode, no memory)
//
// (a) apply:  Y.applyUpdate of every update of trace.bin, in order, into a fresh Y.Doc (one round);
//             warm-up rounds, then measured rounds: ns per update, mean and min over rounds
// (b) encode: Y.encodeStateAsUpdate of a Y.Doc loaded from doc1mb.bin (and doc1mb-text.bin): ms per
//             op, mean and min over batches
// (c) memory: heap used (after gc) while holding `copies` Y.Docs loaded from doc1mb.bin (and
//             doc1mb-text.bin), minus before, per doc, against the encoded size
// Prints JSON and writes it to out/yjs.json.
import * as Y from 'yjs'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'out' },
    'apply-warmup': { type: 'string', default: '3' },
    'apply-rounds': { type: 'string', default: '8' },
    'encode-seconds': { type: 'string', default: '5' },
    copies: { type: 'string', default: '8' },
    base: { type: 'string' },
    only: { type: 'string' }, // 'apply': skip encode and memory
    json: { type: 'string', default: 'yjs.json' }, // output file in --out // apply the trace on top of this state (e.g. base-clients.bin)
    'memory-of': { type: 'string' } // internal: measure one document's memory and print it
  }
})
const OUT = args.out
const gc = globalThis.gc
if (typeof gc !== 'function') throw new Error('run with node --expose-gc')

const now = () => process.hrtime.bigint()

/** Heap used (after gc) while holding `copies` docs loaded from `file`, minus before, per doc. */
function measureMemory (file, copies) {
  const state = new Uint8Array(readFileSync(join(OUT, file)))
  const usedAfterGc = () => {
    let used = Infinity
    for (let i = 0; i < 4; i++) { gc(); used = Math.min(used, process.memoryUsage().heapUsed) }
    return used
  }
  const held = []
  const before = usedAfterGc()
  for (let i = 0; i < copies; i++) {
    const doc = new Y.Doc()
    Y.applyUpdate(doc, state)
    held.push(doc)
  }
  const after = usedAfterGc()
  const retainedBytesPerDoc = Math.round((after - before) / copies)
  if (held.length !== copies) throw new Error('unreachable')
  return { encodedBytes: state.length, copies, retainedBytesPerDoc, ratio: retainedBytesPerDoc / state.length }
}
if (args['memory-of']) {
  console.log(JSON.stringify(measureMemory(args['memory-of'], Number(args.copies))))
  process.exit(0)
}
const log = msg => process.stderr.write(msg + '\n')

function readTrace (file) {
  const buf = readFileSync(file)
  const updates = []
  for (let o = 0; o < buf.length;) {
    const n = buf.readUInt32BE(o)
    updates.push(new Uint8Array(buf.buffer, buf.byteOffset + o + 4, n))
    o += 4 + n
  }
  return updates
}

const equalBytes = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0

// ---------------------------------------------------------------- (a) apply
const updates = readTrace(join(OUT, 'trace.bin'))
const expectedState = readFileSync(join(OUT, 'trace-state.bin'))
const base = args.base ? new Uint8Array(readFileSync(join(OUT, args.base))) : null
const applyAll = (into = null) => {
  const doc = into ?? new Y.Doc()
  for (let i = 0; i < updates.length; i++) Y.applyUpdate(doc, updates[i])
  return doc
}
const apply = { updates: updates.length, base: args.base ?? null, rounds: [] }
{
  const warm = Number(args['apply-warmup'])
  const rounds = Number(args['apply-rounds'])
  for (let r = 0; r < warm + rounds; r++) {
    gc()
    let doc = null
    if (base !== null) { // untimed: the trace goes on top of an existing document
      doc = new Y.Doc()
      Y.applyUpdate(doc, base)
    }
    const t0 = now()
    doc = applyAll(doc)
    const ns = Number(now() - t0)
    if (r === 0 && base === null && !equalBytes(Y.encodeStateAsUpdate(doc), expectedState)) throw new Error('trace-state.bin does not match')
    doc.destroy()
    const perUpdate = ns / updates.length
    log(`apply ${r < warm ? 'warm-up' : 'round'} ${r + 1}: ${(ns / 1e6).toFixed(1)} ms, ${perUpdate.toFixed(0)} ns/update`)
    if (r >= warm) apply.rounds.push(perUpdate)
  }
  apply.nsPerUpdateMean = apply.rounds.reduce((a, b) => a + b, 0) / apply.rounds.length
  apply.nsPerUpdateMin = Math.min(...apply.rounds)
  apply.msPerTraceMean = apply.nsPerUpdateMean * updates.length / 1e6
}

// ---------------------------------------------------------------- (b) encode
const DOCS = args.only === 'apply' ? [] : ['doc1mb.bin', 'doc1mb-text.bin']
const encode = {}
for (const file of DOCS) {
  const state = new Uint8Array(readFileSync(join(OUT, file)))
  const res = { encodedBytes: state.length, batches: [] }
  const doc = new Y.Doc()
  Y.applyUpdate(doc, state)
  if (!equalBytes(Y.encodeStateAsUpdate(doc), state)) throw new Error(file + ' does not re-encode to itself')
  const seconds = Number(args['encode-seconds'])
  // warm-up for a third of the time, then batches of ~0.25 s
  const runFor = ms => {
    const end = Date.now() + ms
    let n = 0
    while (Date.now() < end) { Y.encodeStateAsUpdate(doc); n++ }
    return n
  }
  const warmMs = Math.max(500, seconds * 333)
  const perSecond = runFor(warmMs) / (warmMs / 1000)
  const batch = Math.max(1, Math.round(perSecond / 4))
  const end = Date.now() + seconds * 1000
  let sink = 0
  while (Date.now() < end) {
    const t0 = now()
    for (let i = 0; i < batch; i++) sink += Y.encodeStateAsUpdate(doc).length
    res.batches.push(Number(now() - t0) / batch / 1e6)
  }
  if (sink === 0) log('unreachable')
  res.msPerOpMean = res.batches.reduce((a, b) => a + b, 0) / res.batches.length
  res.msPerOpMin = Math.min(...res.batches)
  res.opsPerBatch = batch
  log(`encode ${file}: ${res.msPerOpMean.toFixed(3)} ms/op mean, ${res.msPerOpMin.toFixed(3)} min, ${res.batches.length} batches of ${batch}`)
  doc.destroy()
  encode[file] = res
}

// ---------------------------------------------------------------- (c) memory
// each document in a fresh process, so that nothing the other measurements left behind counts
const memory = {}
for (const file of DOCS) {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--out', OUT,
    '--memory-of', file, '--copies', args.copies], { encoding: 'utf8' })
  memory[file] = JSON.parse(out)
  log(`memory ${file}: ${memory[file].retainedBytesPerDoc} B per doc = ${memory[file].ratio.toFixed(2)}x the ` +
    `${memory[file].encodedBytes} B encoded`)
}

const require = createRequire(import.meta.url)
const result = {
  node: process.version,
  yjs: require('yjs/package.json').version,
  apply,
  encode,
  memory
}
const json = JSON.stringify(result, null, 2)
writeFileSync(join(OUT, args.json), json + '\n')
console.log(json)
