#!/usr/bin/env node
// Side-by-side table of out/{ripple,ref}-{light,heavy,memory}.json (written by run.sh), with the
// goals of the issue checked. Prints it and writes out/results.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { parseArgs, readResult } from './lib.mjs'

const o = parseArgs(process.argv.slice(2), {
  out: 'out', seconds: 0, warmup: 0, procsLight: 1, procsHeavy: 1, totalSeconds: 0
})
const read = (name) => readResult(o.out, name)
const servers = [['ripple', 'Ripple (file journal)'], ['ref', '@y/websocket-server (in memory)']]
const DOC_KINDS = ['encoded', 'text', 'paste']
const data = Object.fromEntries(servers.map(([k]) => [k, {
  idle: read(`${k}-idle`), ready: read(`${k}-load.ready`), cold1: read(`${k}-cold1`), cold2: read(`${k}-cold2`), light: read(`${k}-light`), heavy: read(`${k}-heavy`), memory: mergeMemory(k), log: logSummary(k)
}]))

/** run.sh runs memory.mjs once per document kind, each on a fresh server: one object of them all. */
function mergeMemory (k) {
  const runs = DOC_KINDS.map((d) => read(`${k}-memory-${d}`)).filter(Boolean)
  if (!runs.length) return null
  return {
    rooms: runs.flatMap((r) => (r.rooms ?? []).map((ph) => ({ ...ph, heap_baseline_mb: r.heap_baseline_mb }))),
    idle: runs.find((r) => r.idle)?.idle ?? null,
    heap_baseline_mb: runs[0].heap_baseline_mb,
    rss_mb: runs.find((r) => r.idle)?.rss_mb ?? runs[0].rss_mb,
    disconnects: runs.reduce((a, r) => a + (r.disconnects ?? 0), 0),
    errors: runs.flatMap((r) => r.errors ?? [])
  }
}
const machine = read('machine')

function logSummary (k) {
  // run.sh writes <log>.lines = the log's line count just before it stops the server: lines after
  // that are the shutdown's and are counted apart
  const r = { warn: 0, error: 0, closes: 0, shutdownWarn: 0, samples: [] }
  for (const phase of ['load', ...DOC_KINDS.map((d) => `memory-${d}`)]) {
    const f = join(o.out, `${k}-${phase}.log`)
    if (!existsSync(f)) continue
    const marker = join(o.out, `${k}-${phase}.lines`)
    const upTo = existsSync(marker) ? Number(readFileSync(marker, 'utf8').trim()) : Infinity
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      const bad = /\b(ERROR|WARN|Error|Exception)\b/.test(line)
      if (i >= upTo) {
        if (bad) r.shutdownWarn++
        return
      }
      if (/\b(ERROR|Error|Exception)\b/.test(line)) r.error++
      else if (/\bWARN\b/.test(line)) r.warn++
      if (/closing connection/.test(line)) r.closes++
      if (bad && r.samples.length < 3) r.samples.push(line.slice(0, 160))
    })
  }
  return r
}

const num = (x, d = 1) => (x == null ? 'n/a' : Number(x).toFixed(d))
const yes = (b) => (b == null ? 'n/a' : b ? 'yes' : '**no**')
const goal = (v, ok) => (v == null ? 'n/a' : `${v} ${ok ? '(met)' : '(**not met**)'}`)

function loadRows (profile, title, p99Goal, strict) {
  const rows = []
  const cell = (fn) => servers.map(([k]) => {
    const r = data[k][profile]
    return r ? fn(r) : 'n/a'
  })
  rows.push([`**${title}**`, '', '', ''])
  rows.push(['latency p50 / p90 / p99 / max (ms)',
    ...cell((r) => r.latency_ms ? `${num(r.latency_ms.p50, 2)} / ${num(r.latency_ms.p90, 2)} / ${num(r.latency_ms.p99, 2)} / ${num(r.latency_ms.max, 1)}` : 'n/a'),
    `p99 < ${p99Goal} ms`])
  rows.push([`p99 under ${p99Goal} ms`, ...cell((r) => goal(num(r.latency_ms?.p99, 2), r.latency_ms?.p99 < p99Goal)), ''])
  rows.push(['latency samples', ...cell((r) => String(r.latency_ms?.count ?? 'n/a')), ''])
  rows.push(['updates/s sent (target)', ...cell((r) => `${num(r.achieved_updates_per_s, 0)} (${r.target_updates_per_s})`), ''])
  rows.push(['received / expected (lost)', ...cell((r) => r.delivery ? `${r.delivery.received} / ${r.delivery.expected_receptions} (${r.delivery.lost})` : 'n/a'),
    strict ? 'nothing lost' : ''])
  rows.push(['rooms converged', ...cell((r) => r.convergence ? `${r.convergence.converged_rooms}/${r.convergence.rooms} ${r.convergence.converged ? '' : '(**not all**)'}` : 'n/a'),
    strict ? 'all rooms converge' : ''])
  rows.push(['disconnects / errors', ...cell((r) => `${r.connections?.disconnects ?? 'n/a'} / ${(r.errors ?? []).length}`), ''])
  rows.push(['server CPU: cores; per update incl. its fan-out (µs)', ...cell((r) => `${num(r.server_cpu_cores, 2)}; ${r.server_cpu_cores != null && r.achieved_updates_per_s ? Math.round((r.server_cpu_cores * 1e6) / r.achieved_updates_per_s) : 'n/a'}`), ''])
  rows.push(['generator CPU (cores), event-loop p99 (ms)', ...cell((r) => `${num(r.generator?.cpu_cores, 2)}, ${num(r.generator?.event_loop_delay_p99_ms, 1)}`), ''])
  rows.push(['generator saturated', ...cell((r) => (r.generator?.saturated ? '**yes**' : 'no')), 'must be no'])
  rows.push(['other jobs on the machine (cores); attempt kept / made', ...cell((r) => `${num(r.other_cpu_cores, 2)}; ${r.attempt != null ? r.attempt + 1 : 1} / ${r.attempts ?? 1}`), '~0'])
  return rows
}

function memRows () {
  const first = data.ripple.memory ?? data.ref.memory ?? { rooms: [], idle: {} }
  const cell = (fn) => servers.map(([k]) => {
    const r = data[k].memory
    try {
      return r ? fn(r) : 'n/a'
    } catch {
      return 'n/a'
    }
  })
  const rows = [
    ['**memory** (heap in use after a full GC; each document kind on a fresh server)', '', '', ''],
    ['heap of a fresh server (MB)', ...cell((r) => num(r.heap_baseline_mb)), '']
  ]
  for (const [i, ph] of (Array.isArray(first.rooms) ? first.rooms : []).entries()) {
    rows.push([`${ph.rooms} rooms, ${ph.document} (${ph.text_chars} chars, ~${ph.encoded_bytes_avg} B encoded, ~${ph.structs_avg} items), 1 idle connection each: heap added (MB)`,
      ...cell((r) => goal(num(r.rooms[i].added_mb), r.rooms[i].added_mb < 100)), '< 100 MB'])
    rows.push(['  per room (KB); rooms verified', ...cell((r) => `${num(r.rooms[i].per_room_kb)}; ${r.rooms[i].rooms_verified}/${r.rooms[i].rooms}`), ''])
  }
  const idle = (data.ripple.memory ?? {}).idle ?? (data.ref.memory ?? {}).idle ?? {}
  rows.push([`${idle.connections ?? '?'} idle connections (${idle.rooms ? Math.ceil(idle.connections / idle.rooms) : '?'} per room, ${idle.rooms ?? '?'} of the rooms above): heap added (MB)`,
    ...cell((r) => goal(num(r.idle.added_mb), r.idle.added_mb < 100)), '< 100 MB'])
  rows.push(['  per connection (KB)', ...cell((r) => num(r.idle.per_connection_kb)), ''])
  rows.push(['process RSS: fresh / after the first kind\'s rooms and the idle connections (MB)', ...cell((r) => `${num(r.rss_mb?.baseline, 0)} / ${num(r.rss_mb?.end, 0)}`), ''])
  rows.push(['disconnects; errors', ...cell((r) => `${r.disconnects}; ${(r.errors ?? []).length}`), ''])
  return rows
}

const logRows = [
  ['**server log**', '', '', ''],
  ['WARN / ERROR lines while running; connections closed by the server', ...servers.map(([k]) => {
    const l = data[k].log
    return `${l.warn} / ${l.error}; ${l.closes}`
  }), ''],
  ['WARN / ERROR lines during shutdown (SIGTERM)', ...servers.map(([k]) => String(data[k].log.shutdownWarn)), '']
]
const logSamples = servers.flatMap(([k, n]) => data[k].log.samples.map((l) => `- ${n}: \`${l}\``))

const header = ['', ...servers.map(([, n]) => n), 'goal']
function coldRows () {
  const p99 = (k, w) => data[k][w]?.latency_ms?.p99
  const ratio = (w) => (p99('ripple', w) != null && p99('ref', w) ? p99('ripple', w) / p99('ref', w) : null)
  const rows = [['**cold: 50 rooms x 5 clients x 10 updates/s on a fresh process, from ready**', '', '', '']]
  rows.push(['process start to ready (ms; Ripple: /ready, after its warm-up)', ...servers.map(([k]) => num(data[k].ready?.ready_ms, 0)), ''])
  for (const [w, title] of [['cold1', 'first 10 s'], ['cold2', 'next 10 s']]) {
    rows.push([`${title}: p99 (ms); lost`, ...servers.map(([k]) => data[k][w] ? `${num(p99(k, w), 1)}; ${data[k][w].delivery?.lost ?? 'n/a'}` : 'n/a'),
      w === 'cold1' ? `Ripple ≤ 2x the reference: ${ratio(w) == null ? 'n/a' : goal(num(ratio(w), 2) + 'x', ratio(w) <= 2)}` : (ratio(w) == null ? '' : `${num(ratio(w), 2)}x`)])
  }
  return rows
}

const rows = [
  ...coldRows(),
  ['server CPU with no client, after the warm-up (cores)', ...servers.map(([k]) => num(data[k].idle?.server_cpu_cores, 3)), ''],
  ...loadRows('light', '10 rooms x 5 clients x 5 updates/s', 10, false),
  ...loadRows('heavy', '50 rooms x 5 clients x 10 updates/s', 25, true),
  ...memRows(),
  ...logRows
]
const table = [
  `| ${header.join(' | ')} |`,
  `|${header.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`)
].join('\n')

const version = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return `${r.stderr || ''}${r.stdout || ''}`.split('\n')[0].trim() || '?'
}
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))
const md = `# Load: Ripple vs @y/websocket-server — results

Run ${new Date().toISOString()} with \`bash bench/load/run.sh\` (${o.totalSeconds ? Math.round(o.totalSeconds / 60 * 10) / 10 + ' min' : ''});
each load profile: ${o.warmup} s warm-up + ${o.seconds} s measured, generator processes ${o.procsLight} (10x5x5) / ${o.procsHeavy} (50x5x10).
Machine: ${machine ? `${machine.cores} cores (${machine.cpu_model}), ${machine.mem_gib} GiB; busy before start ${Math.round(machine.busy_fraction * 100)}% (quiet: ${machine.quiet})` : '?'};
${version('java', ['-version'])}; node ${process.version}; yjs ${pkg.dependencies.yjs}, y-websocket ${pkg.dependencies['y-websocket']},
@y/websocket-server ${pkg.dependencies['@y/websocket-server']}, ws ${pkg.dependencies.ws}.

${table}
${logSamples.length ? '\nServer log lines while running:\n' + logSamples.join('\n') + '\n' : ''}`
writeFileSync(join(o.out, 'results.md'), md)
console.log(md)
