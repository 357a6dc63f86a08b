#!/usr/bin/env node
// Pressure profile "awareness storm": one room, N clients, each moving its cursor U times a second
// for S seconds after a warm-up; what it costs the server, how many awareness frames the clients
// get, and how long a cursor move takes to reach the others.
//
//   node awareness.mjs --url-base ws://127.0.0.1:PORT --clients 200 --rate 10 --seconds 20 --warmup 5
//                      [--procs 2] [--decode-every 1] [--server-pid PID] [--label NAME]
//
// Every client is a raw `ws` client (pressure-lib.mjs RawClient) on /parties/main/<room>?_pk=<uuid>:
// sync step 1 / step 2 with an empty document as a provider does, and its own awareness client id
// with y-protocols' awareness messages written by hand: one entry (id, clock, JSON state), the clock
// increasing by one with every change, as Awareness.setLocalStateField does. On open it announces
// {"user":{"name":...},"cursor":null}; once all are synced each client moves its cursor every 1/U s
// (fixed period, random phase, no catch-up burst after a stall): {"user":...,"cursor":{"x","y","seq","t"}},
// with t = the shared clock read just before the message is encoded and sent.
//
// Every client counts the awareness frames it receives (the server's relay, its own state included
// if the server echoes it). Every --decode-every-th client also decodes them: for each other client's
// cursor state with a new seq, receive time (frame arrival) - t is a delay sample, and seqs skipped
// are counted (a server that coalesces may legitimately skip a state that was overwritten before it
// relayed it; a server that relays everything should skip none). Counted are changes sent in the
// S-second window after the warm-up. At the end sending stops and every decoding client must see
// every other client's last state (bounded wait): a lost final state is a lost cursor.
//
// The server's CPU (--server-pid) and the machine's are read over the window; each generator process
// watches its event-loop delay and CPU: `saturated: true` means event-loop p99 > 10 ms or a process
// used > 0.9 cores, and the delays are then the generator's as much as the server's.
//
// Prints one JSON line. Every wait is bounded; the process exits by itself.
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { awarenessStateMessage, forEachAwarenessEntry } from '../../conformance/lib/wire.mjs'
import { clock, Hist, parseArgs, round, sleep } from './lib.mjs'
import {
  addCounts, childChannel, EventLoopDelay, forkChildren, hardLimit, newRoomPrefix,
  irqCpuCores, otherCpuCores, Probe, RawClient, requireLoopback, share
} from './pressure-lib.mjs'

const DEFAULTS = {
  urlBase: '',
  clients: 200,
  rate: 10,
  seconds: 20,
  warmup: 5,
  party: 'main',
  procs: 2,
  decodeEvery: 1,
  connectTimeout: 60,
  settleTimeout: 10,
  serverPid: '',
  label: '',
  satEldMs: 10,
  satCpu: 0.9,
  roomPrefix: '',
  idBase: 0,
  child: false,
  part: 0,
  parts: 1
}
const o = parseArgs(process.argv.slice(2), DEFAULTS)
requireLoopback(o.urlBase)
for (const k of ['clients', 'rate', 'seconds', 'procs', 'decodeEvery']) {
  if (!(o[k] > 0)) {
    console.error(`--${k} must be positive`)
    process.exit(2)
  }
}
hardLimit(o.connectTimeout + o.warmup + o.seconds + o.settleTimeout + 90, 'awareness')

// ------------------------------------------------------------------ child: some of the room's clients

async function child () {
  const ch = childChannel()
  const [from, to] = share(o.clients, o.parts, o.part)
  const url = `${o.urlBase}/parties/${o.party}/${o.roomPrefix}`
  const stats = { retries: 0, errors: {}, closesAfterSync: {}, awarenessFrames: 0 }
  const delay = new Hist()
  let windowFrom = Infinity
  let windowTo = -Infinity
  const inWindow = (t) => t >= windowFrom && t < windowTo
  const w = { frames: 0, entries: 0, selfEntries: 0, received: 0, skipped: 0, stale: 0, parseErrors: 0 }

  const clients = []
  for (let idx = from; idx < to; idx++) {
    const id = ((o.idBase + idx) % 0xfffffffe) + 1
    const name = `c${idx}`
    const cl = { idx, id, name, seq: 0, sentInWindow: 0, unsent: 0, decoder: idx % o.decodeEvery === 0, lastSeen: new Map(), timer: null }
    const onAwareness = (buf) => {
      const now = clock()
      if (inWindow(now)) w.frames++
      if (!cl.decoder) return
      try {
        forEachAwarenessEntry(buf, (sender, _clk, json) => {
          if (inWindow(now)) w.entries++
          if (sender === id) {
            if (inWindow(now)) w.selfEntries++
            return
          }
          if (json === 'null') return
          const cur = JSON.parse(json).cursor
          if (!cur) return
          const last = cl.lastSeen.get(sender) ?? 0
          if (cur.seq <= last) {
            w.stale++
            return
          }
          cl.lastSeen.set(sender, cur.seq)
          if (inWindow(cur.t)) {
            if (cur.seq > last + 1) w.skipped += cur.seq - last - 1
            w.received++
            delay.add(now - cur.t)
          }
        })
      } catch {
        w.parseErrors++
      }
    }
    cl.raw = new RawClient(`${url}?_pk=${randomUUID()}`, {
      clientId: id,
      awareness: JSON.stringify({ user: { name }, cursor: null }),
      onAwareness,
      stats
    })
    clients.push(cl)
  }
  const connectStart = clock()
  for (const cl of clients) cl.raw.connect()
  while (clock() - connectStart < o.connectTimeout * 1000 && !clients.every((c) => c.raw.syncedAt != null || c.raw.failed)) await sleep(20)
  const unsynced = clients.filter((c) => c.raw.syncedAt == null).length
  await sleep(300) // the greetings pass
  await ch.send({ type: 'ready', unsynced, syncMs: clock() - connectStart })

  const { T0 } = await ch.next('go')
  windowFrom = T0 + o.warmup * 1000
  windowTo = windowFrom + o.seconds * 1000
  const period = 1000 / o.rate
  const eld = new EventLoopDelay()
  let cpu0 = null
  let cpuSeconds = null
  let eldWindow = null
  setTimeout(() => {
    eld.start()
    cpu0 = process.cpuUsage()
  }, Math.max(0, windowFrom - clock()))
  const windowDone = new Promise((resolve) => setTimeout(() => {
    eldWindow = eld.stop()
    const d = process.cpuUsage(cpu0 ?? undefined)
    cpuSeconds = (d.user + d.system) / 1e6
    resolve()
  }, Math.max(0, windowTo - clock())))

  const sendersDone = clients.map((cl) => new Promise((resolve) => {
    let next = T0 + Math.random() * period
    const tick = () => {
      const now = clock()
      if (now >= windowTo) {
        resolve()
        return
      }
      cl.seq++
      const t = clock()
      const json = JSON.stringify({ user: { name: cl.name }, cursor: { x: (cl.seq * 7) % 1000, y: (cl.idx * 13) % 800, seq: cl.seq, t } })
      if (cl.raw.send(awarenessStateMessage(cl.id, ++cl.raw.clock, json))) {
        if (inWindow(t)) cl.sentInWindow++
      } else cl.unsent++
      next += period
      if (next < now - period) next = now // a stalled loop does not burst to catch up
      cl.timer = setTimeout(tick, Math.max(0, next - clock()))
    }
    cl.timer = setTimeout(tick, Math.max(0, next - clock()))
  }))
  await Promise.all(sendersDone)
  await windowDone

  // every decoding client must see every other client's last state
  const finalsMine = clients.map((c) => [c.id, c.seq])
  await ch.send({ type: 'sent', finals: finalsMine })
  const { finals } = await ch.next('finals')
  const decoders = clients.filter((c) => c.decoder)
  const missingFinals = () => {
    let n = 0
    for (const cl of decoders) for (const [id, seq] of finals) if (id !== cl.id && seq > 0 && (cl.lastSeen.get(id) ?? 0) < seq) n++
    return n
  }
  const settleStart = clock()
  while (clock() - settleStart < o.settleTimeout * 1000 && missingFinals() > 0) await sleep(25)
  const settleMs = clock() - settleStart
  const missing = missingFinals()

  const closesDuringRun = { ...stats.closesAfterSync }
  await Promise.all(clients.map((c) => c.raw.close(3000)))
  await ch.send({
    type: 'result',
    part: {
      clients: clients.length,
      unsynced,
      decoders: decoders.length,
      decodersOwnSent: decoders.reduce((a, c) => a + c.sentInWindow, 0),
      sentInWindow: clients.reduce((a, c) => a + c.sentInWindow, 0),
      sent: clients.reduce((a, c) => a + c.seq, 0),
      unsent: clients.reduce((a, c) => a + c.unsent, 0),
      ...w,
      missingFinals: missing,
      finalsExpected: decoders.length * (finals.length - 1),
      settleMs,
      delay: delay.toJSON(),
      cpuSeconds,
      eld: eldWindow,
      stats: { ...stats, closesAfterSync: closesDuringRun }
    }
  })
  process.exit(0)
}

// ------------------------------------------------------------------ coordinator

async function coordinator () {
  const self = fileURLToPath(import.meta.url)
  const k = Math.min(o.procs, o.clients)
  const roomPrefix = o.roomPrefix || newRoomPrefix('aware')
  const idBase = Math.floor(Math.random() * 0xfffffff0)
  const fail = (msg) => {
    console.log(JSON.stringify({ profile: 'awareness', label: o.label || undefined, url_base: o.urlBase, ok: false, errors: [msg], summary: `failed: ${msg}` }))
    process.exit(1)
  }
  const kids = forkChildren(self, k, (i) => [...process.argv.slice(2), '--child', '--part', String(i), '--parts', String(k),
    '--room-prefix', roomPrefix, '--id-base', String(idBase)])
  const readies = await kids.all('ready', (o.connectTimeout + 20) * 1000)
  if (readies.some((r) => r == null)) fail('a generator process did not get ready')
  const errors = []
  const unsynced = readies.reduce((a, r) => a + r.unsynced, 0)
  if (unsynced) errors.push(`${unsynced} clients not synced after ${o.connectTimeout}s`)

  const T0 = clock() + 300
  kids.send({ type: 'go', T0 })
  const probe = new Probe(o.serverPid)
  await sleep(Math.max(0, T0 + o.warmup * 1000 - clock()))
  probe.start()
  await sleep(Math.max(0, T0 + (o.warmup + o.seconds) * 1000 - clock()))
  const p = probe.stop()

  const sent = await kids.all('sent', 30000)
  if (sent.some((s) => s == null)) fail('a generator process did not finish sending')
  kids.send({ type: 'finals', finals: sent.flatMap((s) => s.finals) })
  const results = await kids.all('result', (o.settleTimeout + 30) * 1000)
  if (results.some((r) => r == null)) fail('a generator process did not report')
  const parts = results.map((r) => r.part)

  const sum = (key) => parts.reduce((a, x) => a + x[key], 0)
  const delay = new Hist()
  const stats = { retries: 0, errors: {}, closesAfterSync: {}, awarenessFrames: 0 }
  for (const x of parts) {
    delay.mergeJSON(x.delay)
    stats.retries += x.stats.retries
    addCounts(stats.errors, x.stats.errors)
    addCounts(stats.closesAfterSync, x.stats.closesAfterSync)
  }
  const perProc = parts.map((x) => ({ cpu_cores: round(x.cpuSeconds / o.seconds), event_loop_delay_ms: x.eld }))
  const reasons = []
  for (const [i, x] of perProc.entries()) {
    if (x.event_loop_delay_ms.p99 > o.satEldMs) reasons.push(`proc ${i}: event-loop delay p99 ${x.event_loop_delay_ms.p99} ms > ${o.satEldMs} ms`)
    if (x.cpu_cores > o.satCpu) reasons.push(`proc ${i}: CPU ${x.cpu_cores} cores > ${o.satCpu}`)
  }
  const sentInWindow = sum('sentInWindow')
  const decoders = sum('decoders')
  const expected = decoders * sentInWindow - sum('decodersOwnSent')
  const received = sum('received')
  const skipped = sum('skipped')
  const missingFinals = sum('missingFinals')
  const closes = Object.values(stats.closesAfterSync).reduce((a, n) => a + n, 0)
  if (missingFinals) errors.push(`${missingFinals} final cursor states never arrived (of ${sum('finalsExpected')})`)
  if (closes) errors.push(`connections closed: ${JSON.stringify(stats.closesAfterSync)}`)
  if (sum('parseErrors')) errors.push(`${sum('parseErrors')} awareness frames failed to decode`)
  const generatorCpu = parts.reduce((a, x) => a + x.cpuSeconds, 0)
  const frames = sum('frames')
  const out = {
    profile: 'awareness',
    label: o.label || undefined,
    url_base: o.urlBase,
    clients: o.clients,
    rate_per_client: o.rate,
    seconds: o.seconds,
    warmup: o.warmup,
    procs: k,
    decode_every: o.decodeEvery,
    room: roomPrefix,
    cursor_moves_per_s: round(sentInWindow / o.seconds, 1),
    target_moves_per_s: o.clients * o.rate,
    frames_per_s: round(frames / o.seconds, 1),
    frames_per_s_per_client: round(frames / o.seconds / o.clients, 1),
    // entries (client states) in the frames the decoding clients got, per decoding client
    entries_per_s_per_client: round(sum('entries') / o.seconds / Math.max(1, decoders), 1),
    own_state_echoed_per_s_per_client: round(sum('selfEntries') / o.seconds / Math.max(1, decoders), 1),
    delay_ms: delay.summary(),
    moves: {
      expected_receptions: expected,
      received,
      // a state overwritten before the server relayed it (coalescing) or lost
      skipped,
      not_received: expected - received,
      stale: sum('stale'),
      final_states_missing: missingFinals,
      final_states_expected: sum('finalsExpected'),
      settle_ms: round(Math.max(...parts.map((x) => x.settleMs)), 1)
    },
    server_cpu_cores: round(p.serverCpuSeconds != null ? p.serverCpuSeconds / p.seconds : null),
    server_cpu_us_per_move: p.serverCpuSeconds != null && sentInWindow ? Math.round((p.serverCpuSeconds * 1e6) / sentInWindow) : null,
    generator: {
      cpu_cores: round(generatorCpu / o.seconds),
      event_loop_delay_p99_ms: Math.max(...perProc.map((x) => x.event_loop_delay_ms.p99)),
      saturated: reasons.length > 0,
      saturation_reasons: reasons,
      per_proc: perProc
    },
    connections: { clients: o.clients, unsynced, retries: stats.retries, errors: stats.errors, closes: stats.closesAfterSync, unsent: sum('unsent') },
    machine_cpu_busy: round(p.machineBusy),
    irq_cpu_cores: irqCpuCores(p),
    other_cpu_cores: otherCpuCores(p, generatorCpu),
    errors
  }
  out.ok = errors.length === 0
  out.summary = `${out.cursor_moves_per_s}/${out.target_moves_per_s} moves/s; frames ${out.frames_per_s}/s (${out.frames_per_s_per_client} per client);` +
    ` delay p50 ${out.delay_ms.p50} / p99 ${out.delay_ms.p99} ms; received ${received}/${expected} (skipped ${skipped}); finals missing ${missingFinals};` +
    ` server ${out.server_cpu_cores} cores; generator saturated ${out.generator.saturated}; other jobs ${out.other_cpu_cores} cores`
  console.log(JSON.stringify(out))
  process.exit(out.ok ? 0 : 1)
}

if (o.child) await child()
else await coordinator()
