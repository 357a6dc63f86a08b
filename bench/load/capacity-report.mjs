#!/usr/bin/env node
// The capacity table of capacity.sh: per server and rate, p99 / lost / converged / saturation /
// server CPU, and each server's knee. Prints it and writes out/capacity/capacity.md.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs, readResult } from './lib.mjs'

const o = parseArgs(process.argv.slice(2), { out: 'out/capacity', servers: 'ripple ref hocus', rates: '5 10 15 20 30 40' })
const NAMES = { ripple: 'Ripple (file journal)', ref: '@y/websocket-server (in memory)', hocus: 'Hocuspocus (in memory)' }
const servers = String(o.servers).split(/\s+/).filter(Boolean)
const rates = String(o.rates).split(/\s+/).filter(Boolean).map(Number)
const P99_MAX = 50

const ok = (r) => r && r.latency_ms?.p99 < P99_MAX && r.delivery?.lost === 0 && r.convergence?.converged
const cell = (r) => {
  if (!r) return 'n/a'
  const p99 = r.latency_ms?.p99 == null ? 'n/a' : r.latency_ms.p99.toFixed(1)
  const us = r.server_cpu_cores != null && r.achieved_updates_per_s ? Math.round(r.server_cpu_cores * 1e6 / r.achieved_updates_per_s) : 'n/a'
  return `${ok(r) ? '' : '**'}${p99} ms${ok(r) ? '' : '**'}; lost ${r.delivery?.lost ?? 'n/a'}; ${r.server_cpu_cores?.toFixed(2) ?? 'n/a'} cores, ${us} µs/upd` +
    `${r.generator?.saturated ? '; generator saturated' : ''}`
}
const header = ['updates/s per client (total)', ...servers.map((k) => NAMES[k] ?? k)]
const rows = rates.map((rate) => [`${rate} (${rate * 250})`, ...servers.map((k) => cell(readResult(o.out, `${k}-cap-${rate}`)))])
const knee = servers.map((k) => {
  let best = null
  for (const rate of rates) {
    if (ok(readResult(o.out, `${k}-cap-${rate}`))) best = rate
    else break
  }
  return best == null ? 'below the lowest rate' : `${best} updates/s per client (${best * 250}/s)`
})
rows.push([`**knee**: highest rate with p99 < ${P99_MAX} ms, nothing lost, all converged (every lower rate too)`, ...knee])
const md = [
  `# Capacity: 50 rooms x 5 clients, ${new Date().toISOString()}`, '',
  `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), ''
].join('\n')
writeFileSync(join(o.out, 'capacity.md'), md)
console.log(md)
