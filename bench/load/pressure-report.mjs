#!/usr/bin/env node
// Side-by-side table of out/pressure/{ripple,ref}-{burst,storm,awareness}.json (written by
// pressure.sh), with the servers' log lines counted. Prints it and writes out/pressure/results.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { parseArgs, readResult } from './lib.mjs'

const o = parseArgs(process.argv.slice(2), { out: 'out/pressure', totalSeconds: 0 })
const read = (name) => readResult(o.out, name)
const servers = [['ripple', 'Ripple (H2 journal)'], ['ref', '@y/websocket-server (in memory)']]
const data = Object.fromEntries(servers.map(([k]) => [k, {
  burst: read(`${k}-burst`), storm: read(`${k}-storm`), awareness: read(`${k}-awareness`), log: logSummary(k)
}]))
const machine = read('machine')

/** WARN / ERROR lines of the server's log while running, and during shutdown (after <log>.lines). */
function logSummary (k) {
  const r = { warn: 0, error: 0, closes: 0, shutdown: 0, samples: [] }
  const f = join(o.out, `${k}-pressure.log`)
  if (!existsSync(f)) return r
  const marker = join(o.out, `${k}-pressure.lines`)
  const upTo = existsSync(marker) ? Number(readFileSync(marker, 'utf8').trim()) : Infinity
  readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
    const bad = /\b(ERROR|WARN|Error|Exception)\b/.test(line)
    if (i >= upTo) {
      if (bad) r.shutdown++
      return
    }
    if (/\b(ERROR|Error|Exception)\b/.test(line)) r.error++
    else if (/\bWARN\b/.test(line)) r.warn++
    if (/closing connection/.test(line)) r.closes++
    // the start-up notices of embedded mode are expected: not samples
    if (bad && !/CONVEX_SITE_URL is not set/.test(line) && r.samples.length < 5) r.samples.push(line.slice(0, 200))
  })
  return r
}

const num = (x, d = 1) => (x == null || Number.isNaN(Number(x)) ? 'n/a' : Number(x).toFixed(d))
const counts = (obj) => {
  const e = Object.entries(obj ?? {})
  return e.length ? e.map(([k, n]) => `${k}: ${n}`).join(', ') : 'none'
}
const attempt = (r) => `${num(r.other_cpu_cores, 2)}; ${r.attempt != null ? r.attempt + 1 : 1} / ${r.attempts ?? 1}`

function rows (profile, title, defs) {
  const out = [[`**${title}**`, '', '']]
  for (const [label, fn] of defs) {
    out.push([label, ...servers.map(([k]) => {
      const r = data[k][profile]
      if (!r) return 'n/a'
      if (r.ok === false && r.summary?.startsWith('failed')) return `**${r.summary}**`
      try {
        return fn(r)
      } catch {
        return 'n/a'
      }
    })])
  }
  return out
}

const anyOf = (profile) => data.ripple[profile] ?? data.ref[profile] ?? {}
const b = anyOf('burst')
const s = anyOf('storm')
const a = anyOf('awareness')

const burstRows = rows('burst', `burst: ${b.rooms ?? '?'} rooms x ${b.clients_per_room ?? '?'} clients x ${b.inserts_per_client ?? '?'} inserts, all at once`, [
  ['clients: YPartyKitProvider / y-websocket WebsocketProvider', (r) => `${r.providers?.['y-partykit'] ?? 0} / ${r.providers?.['y-websocket'] ?? 0}`],
  ['seconds from the first insert until every room converged', (r) => (r.converged ? `**${num(r.converge_s, 2)}**` : `**not converged** (${r.converged_rooms}/${r.rooms} rooms)`)],
  ['  fastest / slowest room (s)', (r) => `${num(r.converge_s_per_room?.min, 2)} / ${num(r.converge_s_per_room?.max, 2)}`],
  ['  all inserts sent after (s)', (r) => num(r.send_s, 2)],
  ['edits a fresh client reads / expected (duplicates)', (r) => `${r.edits.present} / ${r.edits.expected} (${r.edits.duplicates})${r.edits.all_present ? '' : ' **not all**'}`],
  ['server CPU during the burst: seconds (cores)', (r) => `**${num(r.server_cpu_seconds, 2)}** (${num(r.server_cpu_cores, 2)})`],
  ['generator CPU: seconds; busiest process (share of the time)', (r) => `${num(r.generator?.cpu_seconds, 2)}; ${num(r.generator?.busy_max, 2)}`],
  ['disconnects / reconnects; close codes', (r) => `${r.connections?.disconnects} / ${r.connections?.reconnects}; ${counts(r.connections?.closeCodes)}`],
  ['other jobs on the machine (cores); attempt kept / made', attempt]
])

const stormRows = rows('storm', `connection storm: ${s.rooms ?? '?'} rooms x ${s.clients_per_room ?? '?'} = ${s.connections ?? '?'} raw WebSocket connections at once${s.awareness ? ', each announcing an awareness state' : ''}`, [
  ['seconds until all open', (r) => (r.all_open_s != null ? `**${num(r.all_open_s, 2)}**` : `**not all** (${r.opened}; last at ${num(r.last_open_s, 2)})`)],
  ['seconds until all synced (server step 1 + step 2 answer)', (r) => (r.all_synced_s != null ? `**${num(r.all_synced_s, 2)}**` : `**not all** (${r.synced}; last at ${num(r.last_synced_s, 2)})`)],
  ['open: p50 / p90 / p99 (ms after the start)', (r) => `${num(r.open_ms?.p50, 0)} / ${num(r.open_ms?.p90, 0)} / ${num(r.open_ms?.p99, 0)}`],
  ['synced: p50 / p90 / p99 (ms after the start)', (r) => `${num(r.synced_ms?.p50, 0)} / ${num(r.synced_ms?.p90, 0)} / ${num(r.synced_ms?.p99, 0)}`],
  ['synced / failed (gave up); retries; most attempts of one connection', (r) => `${r.synced} / ${r.failed}; ${r.retries}; ${r.max_attempts}`],
  ['errors by kind (each failed attempt)', (r) => counts(r.errors_by_kind)],
  ['closes after sync (by code)', (r) => counts(r.closes_after_sync)],
  ['TCP, whole namespace: ListenOverflows / ListenDrops / TCPSynRetrans / RetransSegs', (r) => `${r.tcp?.ListenOverflows} / ${r.tcp?.ListenDrops} / ${r.tcp?.TCPSynRetrans} / ${r.tcp?.RetransSegs}`],
  ['the server listening socket: longest accept queue seen / backlog (sampled every 100 ms)', (r) => `${r.accept_queue?.max_queue ?? 'n/a'} / ${r.accept_queue?.backlog ?? 'n/a'}`],
  ['awareness frames received (all connections)', (r) => String(r.awareness_frames_received)],
  ['server CPU until all synced: seconds (cores)', (r) => `**${num(r.server_cpu_seconds, 2)}** (${num(r.server_cpu_cores, 2)})`],
  ['generator CPU: seconds; busiest process (share); event-loop max (ms)', (r) => `${num(r.generator?.cpu_seconds, 2)}; ${num(r.generator?.busy_max, 2)}; ${num(r.generator?.event_loop_delay_max_ms, 0)}`],
  ['other jobs on the machine (cores); attempt kept / made', attempt]
])

const awareRows = rows('awareness', `awareness storm: 1 room x ${a.clients ?? '?'} clients x ${a.rate_per_client ?? '?'} cursor moves/s, ${a.seconds ?? '?'} s after ${a.warmup ?? '?'} s`, [
  ['cursor moves sent per second (target)', (r) => `${num(r.cursor_moves_per_s, 0)} (${r.target_moves_per_s})`],
  ['server CPU (cores); per move (µs)', (r) => `**${num(r.server_cpu_cores, 2)}**; ${r.server_cpu_us_per_move ?? 'n/a'}`],
  ['awareness frames received per second: all clients; per client', (r) => `**${num(r.frames_per_s, 0)}**; ${num(r.frames_per_s_per_client, 1)}`],
  ['client states per second per client (own state echoed)', (r) => `${num(r.entries_per_s_per_client, 0)} (${num(r.own_state_echoed_per_s_per_client, 1)})`],
  ['delay of a cursor move to the others: p50 / p90 / p99 / max (ms)', (r) => `**${num(r.delay_ms?.p50, 1)}** / ${num(r.delay_ms?.p90, 1)} / **${num(r.delay_ms?.p99, 1)}** / ${num(r.delay_ms?.max, 0)}`],
  ['moves received / expected (skipped: overwritten before relayed, or lost)', (r) => `${r.moves.received} / ${r.moves.expected_receptions} (${r.moves.skipped})`],
  ['final cursor states missing', (r) => `${r.moves.final_states_missing} of ${r.moves.final_states_expected}`],
  ['closes; errors', (r) => `${counts(r.connections?.closes)}; ${(r.errors ?? []).length}`],
  ['generator CPU (cores); event-loop p99 (ms); saturated', (r) => `${num(r.generator?.cpu_cores, 2)}; ${num(r.generator?.event_loop_delay_p99_ms, 1)}; ${r.generator?.saturated ? '**yes**' : 'no'}`],
  ['other jobs on the machine (cores); attempt kept / made', attempt]
])

const logRows = [
  ['**server log**', '', ''],
  ['WARN / ERROR lines while running (Ripple: 2 WARN are its embedded-mode notices); connections closed', ...servers.map(([k]) => {
    const l = data[k].log
    return `${l.warn} / ${l.error}; ${l.closes}`
  })],
  ['WARN / ERROR lines during shutdown (SIGTERM)', ...servers.map(([k]) => String(data[k].log.shutdown))]
]
const logSamples = servers.flatMap(([k, n]) => data[k].log.samples.map((l) => `- ${n}: \`${l}\``))

const header = ['', ...servers.map(([, n]) => n)]
const table = [
  `| ${header.join(' | ')} |`,
  `|${header.map(() => '---').join('|')}|`,
  ...[...burstRows, ...stormRows, ...awareRows, ...logRows].map((r) => `| ${r.join(' | ')} |`)
].join('\n')

const version = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return `${r.stderr || ''}${r.stdout || ''}`.split('\n')[0].trim() || '?'
}
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'))
const errors = servers.flatMap(([k, n]) => ['burst', 'storm', 'awareness'].flatMap((p) => (data[k][p]?.errors ?? []).map((e) => `- ${n}, ${p}: ${e}`)))
const md = `# Pressure: Ripple vs @y/websocket-server — results

Run ${new Date().toISOString()} with \`bash bench/load/pressure.sh\`${o.totalSeconds ? ` (${Math.round((o.totalSeconds / 60) * 10) / 10} min)` : ''}.
Machine: ${machine ? `${machine.cores} cores (${machine.cpu_model}), ${machine.mem_gib} GiB; busy before start ${Math.round(machine.busy_fraction * 100)}% (quiet: ${machine.quiet})` : '?'};
${version('java', ['-version'])}; node ${process.version}; yjs ${pkg.dependencies.yjs}, y-partykit ${pkg.dependencies['y-partykit']},
y-websocket ${pkg.dependencies['y-websocket']}, @y/websocket-server ${pkg.dependencies['@y/websocket-server']}, ws ${pkg.dependencies.ws}.
Ripple relays awareness coalesced (one frame per relay interval, 30 ms, to every client including the
sender); the reference relays every awareness update to every client at once. The TCP counters are the
network namespace's: other jobs' connections count too.

${table}
${errors.length ? '\nErrors reported by the profiles:\n' + errors.join('\n') + '\n' : ''}${logSamples.length ? '\nServer log lines while running (beyond the start-up notices):\n' + logSamples.join('\n') + '\n' : ''}`
writeFileSync(join(o.out, 'results.md'), md)
console.log(md)
