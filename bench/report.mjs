#!/usr/bin/env node
// Builds the side-by-side table from out/yjs.json, out/jmh.json, out/java-memory.json and
// out/trace-meta.json; prints it and writes out/results.md. Machine facts come from env vars that
// run.sh sets (BENCH_DATE, BENCH_SECONDS, BENCH_NPROC, BENCH_JAVA, BENCH_NODE, BENCH_ENGINE,
// BENCH_JMH_ARGS, BENCH_LOAD), when present.
//
// Goals are judged on the median of the measured iterations (JMH) / rounds and batches (yjs): the
// machine is shared, and one iteration slowed by a neighbour moves the mean more than the median.
// The mean and the best are shown too.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const OUT = process.argv[2] || 'out'
const read = f => JSON.parse(readFileSync(join(OUT, f), 'utf8'))
const yjs = read('yjs.json')
const jmh = read('jmh.json')
const mem = read('java-memory.json')
const meta = read('trace-meta.json')

const median = xs => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const mean = xs => xs.reduce((a, b) => a + b, 0) / xs.length
const stats = xs => ({ median: median(xs), mean: mean(xs), best: Math.min(...xs), n: xs.length })

const bench = (name, file) => {
  const b = jmh.find(r => r.benchmark.endsWith(name) && (!file || (r.params && r.params.file === file)))
  if (!b) throw new Error('no JMH result for ' + name + ' ' + (file || ''))
  if (b.primaryMetric.scoreUnit !== 'ms/op') throw new Error('unexpected JMH unit ' + b.primaryMetric.scoreUnit)
  const allocKey = Object.keys(b.secondaryMetrics || {}).find(k => k.endsWith('gc.alloc.rate.norm'))
  return {
    ...stats(b.primaryMetric.rawData.flat()),
    error: b.primaryMetric.scoreError,
    allocPerOp: allocKey ? b.secondaryMetrics[allocKey].score : null,
    jvmArgs: b.jvmArgs
  }
}
const n = meta.trace.updates
if (yjs.apply.updates !== n) throw new Error('yjs ran a different trace')
const scale = (s, k) => ({ ...s, median: s.median * k, mean: s.mean * k, best: s.best * k })
const javaApply = scale(bench('ApplyBenchmark.applyTrace'), 1e6 / n) // ns per update
const yjsApply = stats(yjs.apply.rounds)
const javaEnc = file => bench('EncodeBenchmark.encodeStateAsUpdate', file)
const yjsEnc = file => stats(yjs.encode[file].batches)

const f = (x, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
const verdict = (okMedian, okMean) => okMedian === okMean
  ? (okMedian ? '**yes**' : '**no**')
  : (okMedian ? '**yes** on the median (not on the mean)' : '**no** on the median (yes on the mean)')

const rows = [['metric', 'Java engine', `yjs ${yjs.yjs}, Node ${yjs.node}`, 'yjs / Java', 'goal', 'met?']]
const timeRows = (label, j, y, d, goal, okFn) => {
  rows.push([`${label}, median`, f(j.median, d), f(y.median, d), f(y.median / j.median, 2) + 'x', goal,
    okFn ? verdict(okFn(j.median, y.median), okFn(j.mean, y.mean)) : ''])
  rows.push([`${label}, mean`, f(j.mean, d), f(y.mean, d), f(y.mean / j.mean, 2) + 'x', '', ''])
  rows.push([`${label}, best`, f(j.best, d), f(y.best, d), f(y.best / j.best, 2) + 'x', '', ''])
}
timeRows(`apply ${f(n)}-update trace: ns per update`, javaApply, yjsApply, 0, 'Java ≥ 3x faster', (j, y) => y / j >= 3)
const encA = javaEnc('doc1mb.bin')
timeRows(`encode doc1mb.bin (${f(meta.doc1mb.stateBytes)} B): ms`, encA, yjsEnc('doc1mb.bin'), 3, 'Java < 5 ms', j => j < 5)
const encB = javaEnc('doc1mb-text.bin')
timeRows(`encode doc1mb-text.bin (${f(meta.doc1mbText.stateBytes)} B, mostly text): ms`, encB, yjsEnc('doc1mb-text.bin'), 3,
  '(contrast) < 5 ms', j => j < 5)
for (const [file, label, goal] of [['doc1mb.bin', 'retained heap, doc1mb.bin', 'Java ≤ 2x encoded'],
  ['doc1mb-text.bin', 'retained heap, doc1mb-text.bin (mostly text)', '(contrast) ≤ 2x']]) {
  const j = mem.docs[file]
  const y = yjs.memory[file]
  rows.push([label, `${f(j.retainedBytesJol)} B = ${f(j.ratioJol, 2)}x encoded`, `${f(y.retainedBytesPerDoc)} B = ${f(y.ratio, 2)}x`,
    f(y.retainedBytesPerDoc / j.retainedBytesJol, 2) + 'x', goal, j.ratioJol <= 2 ? '**yes**' : '**no**'])
}
// optional: the trace on top of a document with many earlier client IDs (run.sh BASE_CLIENTS=N)
let baseNote = null
if (existsSync(join(OUT, 'yjs-base.json')) && existsSync(join(OUT, 'jmh-base.json'))) {
  const yb = read('yjs-base.json')
  const jb = read('jmh-base.json')[0]
  const j = scale(stats(jb.primaryMetric.rawData.flat()), 1e6 / n)
  const y = stats(yb.apply.rounds)
  const clients = meta.baseClients ? f(meta.baseClients) : 'many'
  rows.push([`apply on top of a doc with ${clients} client IDs: ns per update, median`, f(j.median), f(y.median),
    f(y.median / j.median, 2) + 'x', '(extra) Java ≥ 3x faster', verdict(y.median / j.median >= 3, y.mean / j.mean >= 3)])
  baseNote = `- apply on top of base-clients.bin: Java ${j.n} JMH iterations, yjs ${y.n} rounds; same trace, the document ` +
    `already holds ${clients} client IDs (one per earlier session).`
}
const table = rows.map((r, i) => '| ' + r.join(' | ') + ' |' + (i === 0 ? '\n|' + r.map(() => '---').join('|') + '|' : '')).join('\n')

const env = process.env
const lines = []
lines.push('# Yjs engine benchmark results', '')
if (env.BENCH_DATE) lines.push(`Run: ${env.BENCH_DATE}` + (env.BENCH_SECONDS ? `, ${env.BENCH_SECONDS} s for the whole of run.sh` : '') + '.  ')
if (env.BENCH_NPROC) lines.push(`Machine: ${env.BENCH_NPROC} cores (shared); ${env.BENCH_JAVA}; Node ${env.BENCH_NODE}.  `)
if (env.BENCH_LOAD) lines.push(`Load average (1/5/15 min) ${env.BENCH_LOAD}.  `)
if (env.BENCH_ENGINE) lines.push(`Engine sources: ${env.BENCH_ENGINE}.  `)
lines.push(`JMH: \`${env.BENCH_JMH_ARGS || '(see jmh.json)'}\`, JVM flags: ${(javaApply.jvmArgs || []).join(' ') || 'defaults'}.`)
lines.push('')
const t = meta.trace
lines.push(`Trace: ${f(n)} single-character updates by ${t.clients} clients (${f(t.deleteUpdates)} deletes, ` +
  `${f(100 * t.deleteUpdates / n, 1)}%), ${f(t.updateBytes)} update bytes; the final document has ` +
  `${f(t.finalTextLength)} characters, state ${f(t.finalStateBytes)} B` +
  (t.shape ? `, ${f(t.shape.items)} items` : '') + '.  ')
const shape = s => s ? `${f(s.items)} items (${f(s.deletedItems)} deleted), ${f(s.liveChars)} live characters, ` +
  `${f(s.bytesPerItem, 1)} encoded bytes per item` : ''
lines.push(`doc1mb.bin: ${f(meta.doc1mb.stateBytes)} B after ${f(meta.doc1mb.updates)} single-character edits of the same ` +
  `generator: ${shape(meta.doc1mb.shape)}.  `)
lines.push(`doc1mb-text.bin (contrast): ${f(meta.doc1mbText.stateBytes)} B after ${f(meta.doc1mbText.edits)} paragraph-sized ` +
  `inserts and sentence deletes: ${shape(meta.doc1mbText.shape)}.`)
lines.push('')
lines.push(table)
lines.push('')
lines.push('Notes:')
lines.push(`- apply: one operation applies the whole trace into a fresh document; per update = per trace / ${f(n)}. ` +
  `Java: ${javaApply.n} JMH iterations (mean ${f(javaApply.mean * n / 1e6, 1)} ms per trace` +
  (javaApply.error ? `, ± ${f(javaApply.error, 1)} ms 99.9% CI` : '') + `); yjs: ${yjsApply.n} rounds after warm-up.` +
  (javaApply.allocPerOp ? ` Java allocates ${f(javaApply.allocPerOp / n)} B per update (-prof gc).` : ''))
lines.push(`- encode: Java ${encA.n} JMH iterations, yjs ${yjs.encode['doc1mb.bin'].batches.length} batches of ` +
  `${yjs.encode['doc1mb.bin'].opsPerBatch}.` + (encA.allocPerOp ? ` Java allocates ${f(encA.allocPerOp)} B per encode of doc1mb.bin, ` +
  `${f(encB.allocPerOp)} B per encode of doc1mb-text.bin.` : ''))
lines.push(`- memory: Java by JOL \`GraphLayout.parseInstance(doc).totalSize()\` (exact; used-heap delta cross-check ` +
  `${f(mem.docs['doc1mb.bin'].heapDeltaBytes)} B and ${f(mem.docs['doc1mb-text.bin'].heapDeltaBytes)} B); yjs by heapUsed delta ` +
  `after gc() while holding ${yjs.memory['doc1mb.bin'].copies} copies, in a fresh process. ` +
  `The document the trace builds: Java ${f(mem.docs.trace.retainedBytesJol)} B for ${f(mem.docs.trace.encodedBytes)} B encoded = ` +
  `${f(mem.docs.trace.ratioJol, 2)}x.`)
if (baseNote) lines.push(baseNote)
const md = lines.join('\n') + '\n'
writeFileSync(join(OUT, 'results.md'), md)
console.log(md)
