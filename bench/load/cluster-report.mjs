#!/usr/bin/env node
// The table of out/cluster/{single,pg1,pg3}-{light,heavy}.json (written by cluster.sh), with the
// cluster goal checked: p99 fan-out under 50 ms at 50 rooms x 5 clients x 10 updates/s on three
// nodes. Prints it and writes out/cluster/results.md.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs, readResult } from './lib.mjs'

const o = parseArgs(process.argv.slice(2), { out: 'out/cluster', seconds: 0, totalSeconds: 0 })
const read = (name) => readResult(o.out, name)
const SETUPS = [
  ['single', 'one node, embedded defaults (H2)'],
  ['pg1', 'one node, cluster mode, PostgreSQL'],
  ['pg3', 'three nodes, PostgreSQL'],
  ['pg3near', 'three nodes, PostgreSQL, rooms near their clients']
]
const PROFILES = [['light', '10 rooms x 5 clients x 5/s'], ['heavy', '50 rooms x 5 clients x 10/s']]
const f = (x, digits = 1) => (x == null ? '—' : Number(x).toFixed(digits))

const lines = [
  `# Cluster vs one node (bench/load/cluster.sh, ${o.seconds} s per profile, run took ${o.totalSeconds} s)`,
  '',
  'Fan-out latency: from a client\'s update to every other client of its room applying it (real y-websocket',
  'providers, loadgen.mjs). Server CPU: all nodes together, in cores, over the measured window (PostgreSQL',
  'not included). Other: CPU used meanwhile by everything else on the machine but the load generator (PostgreSQL included).',
  '',
  '| setup | profile | p50 ms | p99 ms | max ms | updates/s (target) | lost | converged | server CPU cores | µs CPU per update | other cores |',
  '|---|---|---|---|---|---|---|---|---|---|---|'
]
for (const [setup, label] of SETUPS) {
  for (const [profile, plabel] of PROFILES) {
    const r = read(`${setup}-${profile}`)
    if (!r) continue
    const l = r.latency_ms || {}
    const perUpdate = r.server_cpu_cores != null && r.achieved_updates_per_s ? (r.server_cpu_cores * 1e6) / r.achieved_updates_per_s : null
    lines.push(`| ${label} | ${plabel} | ${f(l.p50)} | ${f(l.p99)} | ${f(l.max)} | ${f(r.achieved_updates_per_s, 0)} (${r.target_updates_per_s}) | ` +
      `${(r.delivery || {}).lost ?? '—'} | ${(r.convergence || {}).converged ?? '—'} | ${f(r.server_cpu_cores, 2)} | ${f(perUpdate, 0)} | ${f(r.other_cpu_cores, 2)} |`)
  }
}
lines.push('')
for (const [setup, label] of SETUPS.filter(([k]) => k.startsWith('pg3'))) {
  const r = read(`${setup}-heavy`)
  const p99 = r && r.latency_ms ? r.latency_ms.p99 : null
  lines.push(`Goal (${label}): p99 fan-out under 50 ms at 50 x 5 x 10: ${p99 == null ? 'not measured' : `${f(p99)} ms, ${p99 < 50 ? 'met' : 'missed'}`}.`)
}
const text = lines.join('\n') + '\n'
writeFileSync(join(o.out, 'results.md'), text)
process.stdout.write(text)
