#!/usr/bin/env node
// Pressure profile "storm": R rooms x C raw WebSocket connections (default 100 x 100 = 10,000), all
// opened at the same instant; how long until all are open and all are synced, what failed, what was
// retried, and what the kernel saw.
//
//   node storm.mjs --url-base ws://127.0.0.1:PORT --rooms 100 --clients 100 [--procs 4]
//                  [--awareness 1] [--retries 5] [--handshake-timeout 0] [--timeout 120] [--hold 5] [--server-pid PID]
//
// Each connection is a raw `ws` client (pressure-lib.mjs RawClient) on YPartyKitProvider's URL,
// /parties/main/<room>?_pk=<uuid>, speaking y-protocols by hand as a provider with an empty document:
// on open it sends sync step 1 and (with --awareness 1) its awareness state {"user":{"name":...}} with
// clock 1; it answers the server's step 1 with an empty step 2. Synced = it has the server's step 1
// and the step 2 answering its own. Awareness frames the server relays are counted, not decoded. A
// failure before synced (refused, reset, HTTP 503, close; a handshake timeout only with
// --handshake-timeout S, which the providers do not have) is retried with
// y-websocket's backoff (100 ms x 2^n, at most 2.5 s), at most --retries times, then counted as
// failed; a close after synced is counted by code. The rooms are spread over --procs generator
// processes; each opens all of its connections in one synchronous loop at T0.
//
// Reported: seconds from T0 until the last connection opened and until the last one synced,
// p50/p90/p99 of both per connection, failures, retries and errors by kind, closes after sync, the
// server's CPU from T0 until all were synced, and the deltas of the kernel's TCP counters over the
// same interval (ListenOverflows / ListenDrops: the accept queue was full; TCPSynRetrans: SYNs sent
// again; RetransSegs: all retransmitted segments). The counters are the whole network namespace's:
// other jobs' connections count too, so they are context, not a measurement. The server's own
// listening socket is sampled with `ss` every 100 ms: the longest accept queue seen against its backlog
// (a full queue is where this server's SYNs are dropped). After all are synced
// the connections stay --hold seconds (closes counted), then close with 1000.
//
// Prints one JSON line. Every wait is bounded; the process exits by itself.
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { clock, Hist, parseArgs, round, sleep } from './lib.mjs'
import {
  acceptQueueSampler, addCounts, childChannel, EventLoopDelay, fileLimit, forkChildren, hardLimit, newRoomPrefix, irqCpuCores, otherCpuCores, Probe,
  RawClient, requireLoopback, share, tcpCounters, tcpDelta
} from './pressure-lib.mjs'

const DEFAULTS = {
  urlBase: '',
  rooms: 100,
  clients: 100,
  party: 'main',
  awareness: 1,
  retries: 5,
  handshakeTimeout: 0, // seconds; 0: none, as YPartyKitProvider / y-websocket / browsers
  timeout: 120,
  hold: 5,
  procs: 4,
  serverPid: '',
  label: '',
  roomPrefix: '',
  child: false,
  part: 0,
  parts: 1
}
const o = parseArgs(process.argv.slice(2), DEFAULTS)
requireLoopback(o.urlBase)
for (const k of ['rooms', 'clients', 'procs']) {
  if (!(o[k] > 0)) {
    console.error(`--${k} must be positive`)
    process.exit(2)
  }
}
hardLimit(o.timeout + o.hold + 90, 'storm')

// ------------------------------------------------------------------ child: the connections of some rooms

async function child () {
  const ch = childChannel()
  const [from, to] = share(o.rooms, o.parts, o.part)
  const stats = { retries: 0, errors: {}, closesAfterSync: {}, awarenessFrames: 0 }
  const clients = []
  let pending = 0
  let allDone = null
  const done = new Promise((resolve) => { allDone = resolve })
  const settle = () => {
    if (--pending === 0) allDone()
  }
  for (let r = from; r < to; r++) {
    const url = `${o.urlBase}/parties/${o.party}/${o.roomPrefix}-${r}`
    for (let c = 0; c < o.clients; c++) {
      const clientId = 1 + Math.floor(Math.random() * 0xfffffffe)
      clients.push(new RawClient(`${url}?_pk=${randomUUID()}`, {
        retries: o.retries,
        handshakeTimeoutMs: o.handshakeTimeout * 1000,
        clientId,
        awareness: o.awareness ? JSON.stringify({ user: { name: `r${r}c${c}`, color: '#30bced' } }) : null,
        onSynced: settle,
        onGaveUp: settle,
        stats
      }))
    }
  }
  pending = clients.length
  await ch.send({ type: 'ready', connections: clients.length, files: fileLimit() })

  const { T0 } = await ch.next('go')
  await sleep(Math.max(0, T0 - clock()))
  const eld = new EventLoopDelay()
  eld.start()
  const cpu0 = process.cpuUsage()
  const openedAt = clock()
  for (const cl of clients) cl.connect()
  const loopMs = clock() - openedAt // how long this process took to start all of its connections
  const deadline = T0 + o.timeout * 1000
  await Promise.race([done, sleep(Math.max(0, deadline - clock()))])
  const cpu = process.cpuUsage(cpu0)
  const eldStorm = eld.stop()

  const openMs = new Hist()
  const syncMs = new Hist()
  let opened = 0
  let synced = 0
  let failed = 0
  let lastOpen = null
  let lastSynced = null
  const attempts = new Hist()
  for (const cl of clients) {
    if (cl.openAt != null) {
      opened++
      openMs.add(cl.openAt - T0)
      lastOpen = Math.max(lastOpen ?? 0, cl.openAt)
    }
    if (cl.syncedAt != null) {
      synced++
      syncMs.add(cl.syncedAt - T0)
      lastSynced = Math.max(lastSynced ?? 0, cl.syncedAt)
    }
    if (cl.failed) failed++
    attempts.add(cl.attempts)
  }
  await ch.send({
    type: 'synced',
    opened,
    synced,
    failed,
    pending: clients.length - synced - failed,
    lastOpen,
    lastSynced,
    openMs: openMs.toJSON(),
    syncMs: syncMs.toJSON(),
    maxAttempts: attempts.max,
    loopMs,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    eld: eldStorm
  })

  await ch.next('finish')
  const closesDuringHold = { ...stats.closesAfterSync }
  await Promise.all(clients.map((cl) => cl.close(5000)))
  await ch.send({ type: 'result', stats: { ...stats, closesAfterSync: closesDuringHold } })
  process.exit(0)
}

// ------------------------------------------------------------------ coordinator

async function coordinator () {
  const self = fileURLToPath(import.meta.url)
  const k = Math.min(o.procs, o.rooms)
  const roomPrefix = o.roomPrefix || newRoomPrefix('storm')
  const total = o.rooms * o.clients
  const fail = (msg) => {
    console.log(JSON.stringify({ profile: 'storm', label: o.label || undefined, url_base: o.urlBase, ok: false, errors: [msg], summary: `failed: ${msg}` }))
    process.exit(1)
  }
  const kids = forkChildren(self, k, (i) => [...process.argv.slice(2), '--child', '--part', String(i), '--parts', String(k), '--room-prefix', roomPrefix])
  const readies = await kids.all('ready', 30000)
  if (readies.some((r) => r == null)) fail('a generator process did not get ready')
  const files = readies[0].files
  const perProc = Math.max(...readies.map((r) => r.connections))
  const errors = []
  if (files && files.soft < perProc + 100) errors.push(`open-file limit ${files.soft} < ${perProc + 100} for ${perProc} connections per generator process`)

  const T0 = clock() + 500
  kids.send({ type: 'go', T0 })
  await sleep(Math.max(0, T0 - clock()))
  const probe = new Probe(o.serverPid)
  const tcp0 = tcpCounters()
  const acceptQueue = acceptQueueSampler(new URL(o.urlBase).port || 80)
  probe.start()
  const parts = await kids.all('synced', (o.timeout + 20) * 1000)
  const p = probe.stop()
  const tcp1 = tcpCounters()
  const queue = await acceptQueue.stop()
  if (parts.some((x) => x == null)) fail('a generator process did not report')

  await sleep(o.hold * 1000)
  kids.send({ type: 'finish' })
  const results = await kids.all('result', 30000)
  if (results.some((x) => x == null)) fail('a generator process did not close its connections')

  const sum = (key) => parts.reduce((a, x) => a + x[key], 0)
  const openMs = new Hist()
  const syncMs = new Hist()
  for (const x of parts) {
    openMs.mergeJSON(x.openMs)
    syncMs.mergeJSON(x.syncMs)
  }
  const stats = { retries: 0, errors: {}, closesAfterSync: {}, awarenessFrames: 0 }
  for (const r of results) {
    stats.retries += r.stats.retries
    stats.awarenessFrames += r.stats.awarenessFrames
    addCounts(stats.errors, r.stats.errors)
    addCounts(stats.closesAfterSync, r.stats.closesAfterSync)
  }
  const opened = sum('opened')
  const synced = sum('synced')
  const failed = sum('failed')
  const lastOpen = Math.max(...parts.map((x) => x.lastOpen ?? -Infinity))
  const lastSynced = Math.max(...parts.map((x) => x.lastSynced ?? -Infinity))
  const allSynced = synced === total
  const closesAfterSync = Object.values(stats.closesAfterSync).reduce((a, n) => a + n, 0)
  if (!allSynced) errors.push(`${synced} of ${total} connections synced (${failed} gave up, ${total - synced - failed} still pending after ${o.timeout}s)`)
  if (closesAfterSync) errors.push(`${closesAfterSync} connections closed after sync: ${JSON.stringify(stats.closesAfterSync)}`)
  const generatorCpu = sum('cpuSeconds')
  const tcp = tcpDelta(tcp0, tcp1)
  const out = {
    profile: 'storm',
    label: o.label || undefined,
    url_base: o.urlBase,
    rooms: o.rooms,
    clients_per_room: o.clients,
    connections: total,
    awareness: Boolean(o.awareness),
    procs: k,
    room_prefix: roomPrefix,
    all_open_s: opened === total ? round((lastOpen - T0) / 1000) : null,
    all_synced_s: allSynced ? round((lastSynced - T0) / 1000) : null,
    last_open_s: opened ? round((lastOpen - T0) / 1000) : null,
    last_synced_s: synced ? round((lastSynced - T0) / 1000) : null,
    open_ms: openMs.summary(),
    synced_ms: syncMs.summary(),
    opened,
    synced,
    failed,
    retries: stats.retries,
    max_attempts: Math.max(...parts.map((x) => x.maxAttempts)),
    errors_by_kind: stats.errors,
    closes_after_sync: stats.closesAfterSync,
    awareness_frames_received: stats.awarenessFrames,
    tcp,
    accept_queue: queue,
    measured_s: round(p.seconds),
    server_cpu_seconds: round(p.serverCpuSeconds),
    server_cpu_cores: round(p.serverCpuSeconds != null ? p.serverCpuSeconds / p.seconds : null),
    generator: {
      cpu_seconds: round(generatorCpu),
      busy_max: round(Math.max(...parts.map((x) => x.cpuSeconds / p.seconds))),
      saturated: Math.max(...parts.map((x) => x.cpuSeconds / p.seconds)) > 0.9,
      connect_loop_ms_max: round(Math.max(...parts.map((x) => x.loopMs)), 1),
      event_loop_delay_p99_ms: Math.max(...parts.map((x) => x.eld.p99)),
      event_loop_delay_max_ms: Math.max(...parts.map((x) => x.eld.max))
    },
    open_files: files,
    machine_cpu_busy: round(p.machineBusy),
    irq_cpu_cores: irqCpuCores(p),
    other_cpu_cores: otherCpuCores(p, generatorCpu),
    errors
  }
  out.ok = allSynced && closesAfterSync === 0 && errors.length === 0
  out.summary = `${total} connections: all open ${out.all_open_s ?? `**no** (${opened})`} s, all synced ${out.all_synced_s ?? `**no** (${synced})`} s` +
    ` (p50 ${out.synced_ms.p50} / p99 ${out.synced_ms.p99} ms); failed ${failed}, retries ${stats.retries}, closes ${closesAfterSync};` +
    ` accept queue max ${queue.max_queue}/${queue.backlog}; ListenOverflows ${tcp.ListenOverflows}, SynRetrans ${tcp.TCPSynRetrans}, RetransSegs ${tcp.RetransSegs}; server ${out.server_cpu_seconds} CPU s;` +
    ` generator ${out.generator.cpu_seconds} CPU s; other jobs ${out.other_cpu_cores} cores`
  console.log(JSON.stringify(out))
  process.exit(out.ok ? 0 : 1)
}

if (o.child) await child()
else await coordinator()
