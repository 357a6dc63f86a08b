#!/usr/bin/env node
// Load generator for a y-websocket room server, with the real clients (yjs + y-websocket's
// WebsocketProvider over `ws`).
//
//   node loadgen.mjs --url-base ws://127.0.0.1:PORT --rooms N --clients M --rate U --seconds S
//                    [--warmup 3] [--procs K] [--server-pid PID] [--label NAME]
//                    [--move-every SECONDS --move-fraction 0.1]
//
// Against a cluster, --url-base lists every node (comma-separated) and --server-pid every node's
// pid: client c of room r connects to node (r + c) mod nodes, as a round-robin load balancer would
// place them, so every room has clients on several nodes and its fan-out crosses nodes. With
// --placement room every client of room r connects to node r mod nodes instead, as a balancer that
// hashes the room (nginx `hash $uri consistent`) places them.
//
// N rooms x M clients; every client sets its own key of the shared map 'lat' to
// { t: <send time>, seq } U times a second on a jittered timer. Every other client of the room
// sees the change (map observer) and records receive time - t: the end-to-end fan-out latency
// (client encode + send, server, fan-out, client decode + apply). Samples are kept for updates
// sent during the S seconds after the warm-up. At the end sending stops, the generator waits
// (bounded) until every client has seen every other client's last seq and all state vectors are
// equal, then checks each room: equal state vectors, equal content, and received = sent x (M-1).
//
// The generator watches itself: event-loop delay (perf_hooks.monitorEventLoopDelay) and CPU time
// during the measured window; `saturated: true` means its own latency numbers are not to be
// trusted. With --procs K the rooms are split over K child processes (a room stays in one
// process, so sender and receivers read the same clock) and the results are merged.
//
// With --move-every S, new rooms keep opening under the load: every S seconds of the sending phase a
// fraction (--move-fraction) of the rooms move, all their clients together, to a room that is new to
// the server: they stop typing, wait (bounded) until the room is quiet and check it converged, leave,
// and open the new room with new documents; the time from the move to all of its clients synced is
// reported as moves.syncMs. Deliveries in the rooms left count in received / expected as any others.
//
// Prints one JSON line. Every wait is bounded; the process exits by itself.
import { fork } from 'node:child_process'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider } from '@hocuspocus/provider'
import * as Y from 'yjs'
import { clock, sleep, parseArgs, Hist, procTreeCpuSeconds, machineCpu, machineBusy, round } from './lib.mjs'

const DEFAULTS = {
  urlBase: '',
  rooms: 10,
  clients: 5,
  rate: 5,
  seconds: 30,
  warmup: 3,
  procs: 1,
  roomPrefix: '',
  payload: 0, // extra characters in every update, for bigger messages
  connectTimeout: 60,
  settleTimeout: 20,
  placement: 'spread', // spread: client c of room r on node (r + c) mod n; room: every client of room r on node r mod n
  serverPid: '', // pid[,pid...]: if set, the servers' CPU use (their process trees) during the window is reported
  label: '',
  moveEvery: 0, // seconds; 0: the rooms stay the same
  moveFraction: 0.1,
  client: 'y-websocket', // or hocuspocus: @hocuspocus/provider, for a Hocuspocus server (hocus-server.mjs)
  satEldMs: 10, // event-loop delay p99 above this: the generator is saturated
  satCpu: 0.9, // CPU (cores) of one generator process above this: saturated
  // set by the coordinator for its children
  child: false,
  roomFrom: 0,
  roomTo: -1
}

const ELD_RESOLUTION_MS = 2

const o = parseArgs(process.argv.slice(2), DEFAULTS)
const urlBases = o.urlBase.split(',')
const serverPids = String(o.serverPid).split(',').map(Number).filter((n) => n > 0)
const serversCpuSeconds = () => {
  let total = 0
  for (const pid of serverPids) {
    const t = procTreeCpuSeconds(pid)
    if (t == null) return null
    total += t
  }
  return total
}
if (!urlBases.every((u) => /^wss?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/.test(u))) {
  console.error('--url-base must be a ws:// URL on the loopback interface, e.g. ws://127.0.0.1:1234')
  process.exit(2)
}
if (!o.roomPrefix) o.roomPrefix = `doc-load-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`
if (o.roomTo < 0) o.roomTo = o.rooms
for (const k of ['rooms', 'clients', 'rate', 'seconds', 'procs']) {
  if (!(o[k] > 0)) {
    console.error(`--${k} must be positive`)
    process.exit(2)
  }
}

// A hard stop for the whole process, whatever happens.
const hardLimitMs = (o.connectTimeout + o.warmup + o.seconds + o.settleTimeout + 60) * 1000
setTimeout(() => {
  console.error(`loadgen: hard time limit of ${hardLimitMs / 1000}s reached, exiting`)
  process.exit(3)
}, hardLimitMs).unref()

/** A HocuspocusProvider behind the few y-websocket provider events this generator listens to. */
function hocuspocusProvider (url, name, doc) {
  const p = new HocuspocusProvider({ url, name, document: doc, WebSocketPolyfill: WebSocket })
  const events = {
    sync: (fn) => p.on('synced', ({ state }) => fn(state)),
    status: (fn) => {
      let last = null // the provider and its socket both report a status: forward changes only
      p.on('status', (e) => { if (e.status !== last) { last = e.status; fn(e) } })
    },
    'connection-error': () => {},
    'connection-close': (fn) => p.on('close', ({ event }) => fn(event))
  }
  return { on: (ev, fn) => events[ev](fn), destroy: () => p.destroy() }
}

// ------------------------------------------------------------------ one process's rooms

async function runWorker (waitForGo) {
  process.setMaxListeners(0) // every WebsocketProvider adds an 'exit' listener
  const errors = []
  const rooms = []
  const lat = new Hist()
  const stats = {
    received: 0, // changes observed in order
    gaps: 0, // seqs never observed on their own: overwritten in the same update by a later one of the same client
    duplicates: 0, // seq seen again or going back
    disconnects: 0,
    reconnects: 0,
    connectionErrors: 0,
    closeCodes: {}
  }
  let stopping = false
  let measureFrom = Infinity
  let measureTo = -Infinity
  const payload = o.payload > 0 ? 'x'.repeat(o.payload) : null
  const moveSync = new Hist()
  const moveOpen = new Hist()
  let movesNotQuiet = 0
  const diverged = []
  let sent = 0
  let expected = 0

  const svOf = (cl) => Buffer.from(Y.encodeStateVector(cl.doc)).toString('base64')
  const roomQuiet = (room) => {
    for (const cl of room.clients) {
      for (const other of room.clients) {
        if (other !== cl && (cl.lastSeen.get(other.key) ?? 0) < other.seq) return false
      }
    }
    const sv0 = svOf(room.clients[0])
    return room.clients.every((c) => svOf(c) === sv0)
  }
  const stable = (v) => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : x))
  /** Checks one room (its current documents) converged and adds what its clients sent and should have received. */
  const tally = (room) => {
    const svs = room.clients.map(svOf)
    const contents = room.clients.map((c) => stable(c.map.toJSON()))
    const complete = room.clients.every((c) => c.map.size === room.clients.length)
    if (!svs.every((s) => s === svs[0]) || !contents.every((s) => s === contents[0]) || !complete) diverged.push(room.name)
    for (const cl of room.clients) {
      sent += cl.seq
      expected += cl.seq * (room.clients.length - 1)
    }
  }

  /** Every moveEvery seconds until endAt, the next moveFraction of the rooms move to new rooms (see the header). */
  async function moveRooms (T0, endAt) {
    const perMove = Math.max(1, Math.round(o.moveFraction * rooms.length))
    let cursor = 0
    for (let k = 1; T0 + k * o.moveEvery * 1000 < endAt - 1000; k++) {
      await sleep(Math.max(0, T0 + k * o.moveEvery * 1000 - clock()))
      if (stopping) return
      await Promise.all(Array.from({ length: perMove }, () => moveRoom(rooms[cursor++ % rooms.length])))
    }
  }

  async function moveRoom (room) {
    const from = clock()
    room.moving = true
    while (!roomQuiet(room) && clock() - from < 5000) await sleep(10)
    if (!roomQuiet(room)) movesNotQuiet++
    tally(room)
    room.generation++
    room.name = `${o.roomPrefix}-${room.index}-m${room.generation}`
    const opened = clock()
    room.clients.forEach((cl, c) => {
      cl.leaving = true
      cl.provider.destroy()
      cl.doc.destroy()
      cl.leaving = false
      cl.everConnected = false // a move is not a reconnect
      connectClient(cl, room.name, room.index, c)
    })
    room.moving = false // updates made before the provider syncs go with its sync
    while (!room.clients.every((cl) => cl.synced) && clock() - opened < o.connectTimeout * 1000) await sleep(5)
    if (room.clients.every((cl) => cl.synced)) {
      moveSync.add(clock() - opened)
      for (const cl of room.clients) moveOpen.add(cl.openAt - opened) // the socket's open: the TCP and HTTP upgrade
    }
    else errors.push(`room ${room.name}: not all clients synced within ${o.connectTimeout} s of its move`)
  }

  const onChange = (cl, ev) => {
    if (ev.transaction.local) return
    const now = clock()
    for (const key of ev.keysChanged) {
      if (key === cl.key) continue
      const v = cl.map.get(key)
      if (v == null || typeof v.seq !== 'number') continue
      const last = cl.lastSeen.get(key) ?? 0
      if (v.seq <= last) {
        stats.duplicates++
        continue
      }
      // a value that skips seqs arrived in one update with the ones it skips, which it overwrites: a
      // server that merges a client's consecutive updates (Ripple, when its window is full) sends them
      // together, and the client applies them in one transaction. They arrived (a missing one would leave
      // every later update of that client pending, and the room would not converge); counted as gaps.
      if (v.seq > last + 1) stats.gaps += v.seq - last - 1
      stats.received += v.seq - last
      cl.lastSeen.set(key, v.seq)
      if (v.t >= measureFrom && v.t < measureTo) lat.add(now - v.t)
    }
  }

  /** Gives client {@code c} of room index {@code r} a new document and a provider connected to room {@code name}. */
  const connectClient = (cl, name, r, c) => {
    const doc = new Y.Doc()
    Object.assign(cl, { doc, map: doc.getMap('lat'), seq: 0, lastSeen: new Map(), synced: false, openAt: null })
    cl.map.observe((ev) => onChange(cl, ev))
    const node = (o.placement === 'room' ? r : r + c) % urlBases.length
    const provider = o.client === 'hocuspocus'
      ? hocuspocusProvider(urlBases[node], name, doc)
      : new WebsocketProvider(urlBases[node], name, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
    provider.on('sync', (s) => { if (s) cl.synced = true })
    provider.on('status', ({ status }) => {
      if (status === 'connected') {
        if (cl.openAt == null) cl.openAt = clock()
        if (cl.everConnected) stats.reconnects++
        cl.everConnected = true
      } else if (status === 'disconnected' && !stopping && !cl.leaving) stats.disconnects++
    })
    provider.on('connection-error', () => { if (!stopping) stats.connectionErrors++ })
    provider.on('connection-close', (ev) => {
      if (!stopping && !cl.leaving && ev) stats.closeCodes[ev.code] = (stats.closeCodes[ev.code] || 0) + 1
    })
    cl.provider = provider
  }

  const connectStart = clock()
  for (let r = o.roomFrom; r < o.roomTo; r++) {
    const name = `${o.roomPrefix}-${r}`
    const room = { name, index: r, clients: [], moving: false, generation: 0 }
    for (let c = 0; c < o.clients; c++) {
      const cl = { key: `c${c}`, room, sentInWindow: 0, everConnected: false, leaving: false, timer: null }
      connectClient(cl, name, r, c)
      room.clients.push(cl)
    }
    rooms.push(room)
  }
  const all = rooms.flatMap((r) => r.clients)

  // wait (bounded) until every client has synced with the server
  while (clock() - connectStart < o.connectTimeout * 1000 && !all.every((c) => c.synced)) await sleep(20)
  const syncMs = clock() - connectStart
  const unsynced = all.filter((c) => !c.synced).length
  if (unsynced > 0) errors.push(`${unsynced} of ${all.length} clients not synced after ${o.connectTimeout}s`)
  await sleep(300) // let the awareness greetings pass

  const T0 = await waitForGo({ synced: unsynced === 0, syncMs })
  const period = 1000 / o.rate
  const endAt = T0 + (o.warmup + o.seconds) * 1000
  measureFrom = T0 + o.warmup * 1000
  measureTo = endAt

  // self-measurement over the measured window
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
  let cpuAt = null
  let cpuUsed = null
  setTimeout(() => {
    eld.enable()
    cpuAt = process.cpuUsage()
  }, Math.max(0, measureFrom - clock()))
  const windowDone = new Promise((resolve) => setTimeout(() => {
    eld.disable()
    const d = process.cpuUsage(cpuAt ?? undefined)
    cpuUsed = (d.user + d.system) / 1e6
    resolve()
  }, Math.max(0, measureTo - clock())))

  // senders
  const sendersDone = all.map((cl) => new Promise((resolve) => {
    let next = T0 + Math.random() * period
    const tick = () => {
      const now = clock()
      if (now >= endAt || stopping) {
        resolve()
        return
      }
      if (cl.room.moving) { // its room is moving: no update until the new one is open
        cl.timer = setTimeout(tick, period)
        return
      }
      cl.seq++
      const t = clock()
      cl.map.set(cl.key, payload ? { t, seq: cl.seq, p: payload } : { t, seq: cl.seq })
      if (t >= measureFrom) cl.sentInWindow++
      next += period * (0.5 + Math.random())
      if (next < now - period) next = now - period // a stalled loop does not burst to catch up
      cl.timer = setTimeout(tick, Math.max(0, next - clock()))
    }
    cl.timer = setTimeout(tick, Math.max(0, next - clock()))
  }))
  const movesDone = o.moveEvery > 0 ? moveRooms(T0, endAt) : Promise.resolve()
  await Promise.all(sendersDone)
  await movesDone
  await windowDone

  // quiescence: every client has seen every other client's last seq and the state vectors agree
  const settleStart = clock()
  while (clock() - settleStart < o.settleTimeout * 1000 && !rooms.every(roomQuiet)) await sleep(25)
  const settleMs = clock() - settleStart

  // convergence
  let sentInWindow = 0
  for (const room of rooms) {
    tally(room)
    for (const cl of room.clients) sentInWindow += cl.sentInWindow
  }

  stopping = true
  for (const cl of all) {
    clearTimeout(cl.timer)
    cl.provider.destroy()
    cl.doc.destroy()
  }
  await sleep(200)

  return {
    rooms: rooms.length,
    clients: all.length,
    syncMs,
    sent,
    sentInWindow,
    expected,
    ...stats,
    moveSync: moveSync.toJSON(),
    moveOpen: moveOpen.toJSON(),
    movesNotQuiet,
    diverged,
    settleMs,
    latency: lat.toJSON(),
    cpuSeconds: cpuUsed,
    windowSeconds: o.seconds,
    eld: {
      p50: Math.max(0, eld.percentile(50) / 1e6 - ELD_RESOLUTION_MS),
      p99: Math.max(0, eld.percentile(99) / 1e6 - ELD_RESOLUTION_MS),
      max: Math.max(0, eld.max / 1e6 - ELD_RESOLUTION_MS)
    },
    errors
  }
}

// ------------------------------------------------------------------ coordinator / standalone

function windowProbe (T0) {
  // the server's and the machine's CPU over the same measured window
  const from = T0 + o.warmup * 1000
  const to = T0 + (o.warmup + o.seconds) * 1000
  const res = { serverCpuCores: null, machineBusy: null }
  let s0 = null
  let m0 = null
  setTimeout(() => {
    s0 = serverPids.length > 0 ? serversCpuSeconds() : null
    m0 = machineCpu()
  }, Math.max(0, from - clock()))
  const done = new Promise((resolve) => setTimeout(() => {
    const s1 = serverPids.length > 0 ? serversCpuSeconds() : null
    if (s0 != null && s1 != null) res.serverCpuCores = (s1 - s0) / o.seconds
    if (m0) res.machineBusy = machineBusy(m0, machineCpu())
    resolve(res)
  }, Math.max(0, to - clock())))
  return done
}

function report (parts, probe, procs) {
  const lat = new Hist()
  const moveSync = new Hist()
  const moveOpen = new Hist()
  const sum = (k) => parts.reduce((a, p) => a + p[k], 0)
  const closeCodes = {}
  for (const p of parts) {
    lat.mergeJSON(p.latency)
    moveSync.mergeJSON(p.moveSync)
    moveOpen.mergeJSON(p.moveOpen)
    for (const [code, n] of Object.entries(p.closeCodes)) closeCodes[code] = (closeCodes[code] || 0) + n
  }
  const perProc = parts.map((p) => ({
    rooms: p.rooms,
    cpu_cores: round(p.cpuSeconds != null ? p.cpuSeconds / p.windowSeconds : null),
    event_loop_delay_ms: { p50: round(p.eld.p50), p99: round(p.eld.p99), max: round(p.eld.max) }
  }))
  const reasons = []
  for (const [i, p] of perProc.entries()) {
    if (p.event_loop_delay_ms.p99 > o.satEldMs) reasons.push(`proc ${i}: event-loop delay p99 ${p.event_loop_delay_ms.p99} ms > ${o.satEldMs} ms`)
    if (p.cpu_cores > o.satCpu) reasons.push(`proc ${i}: CPU ${p.cpu_cores} cores > ${o.satCpu}`)
  }
  const expected = sum('expected')
  const received = sum('received')
  const diverged = parts.flatMap((p) => p.diverged)
  const errors = parts.flatMap((p) => p.errors)
  const roomsTotal = sum('rooms')
  const out = {
    label: o.label || undefined,
    url_base: o.urlBase,
    rooms: o.rooms,
    clients_per_room: o.clients,
    rate_per_client: o.rate,
    seconds: o.seconds,
    warmup: o.warmup,
    procs,
    room_prefix: o.roomPrefix,
    target_updates_per_s: o.rooms * o.clients * o.rate,
    achieved_updates_per_s: round(sum('sentInWindow') / o.seconds, 1),
    latency_ms: lat.summary(),
    // --move-every: rooms that moved to a new room under the load, and how long until all their clients had synced there
    moves: o.moveEvery > 0
      ? { ...moveSync.summary(), socket_open_ms: moveOpen.summary(), not_quiet_before_moving: sum('movesNotQuiet') }
      : undefined,
    delivery: {
      sent: sum('sent'),
      expected_receptions: expected,
      received,
      lost: expected - received,
      gaps: sum('gaps'),
      duplicates: sum('duplicates')
    },
    convergence: {
      rooms: roomsTotal,
      converged_rooms: roomsTotal - diverged.length,
      converged: diverged.length === 0 && roomsTotal === o.rooms,
      diverged_rooms: diverged.slice(0, 10),
      settle_ms: round(Math.max(...parts.map((p) => p.settleMs)), 1)
    },
    connections: {
      clients: sum('clients'),
      sync_ms: round(Math.max(...parts.map((p) => p.syncMs)), 1),
      disconnects: sum('disconnects'),
      reconnects: sum('reconnects'),
      connection_errors: sum('connectionErrors'),
      close_codes: closeCodes
    },
    generator: {
      cpu_cores: round(parts.reduce((a, p) => a + (p.cpuSeconds ?? 0), 0) / o.seconds),
      event_loop_delay_p99_ms: round(Math.max(...perProc.map((p) => p.event_loop_delay_ms.p99))),
      saturated: reasons.length > 0,
      saturation_reasons: reasons,
      per_proc: perProc
    },
    server_cpu_cores: round(probe.serverCpuCores),
    machine_cpu_busy: round(probe.machineBusy),
    // CPU used by everything else on the machine in the window (other jobs disturb the numbers)
    other_cpu_cores: probe.machineBusy != null && probe.serverCpuCores != null
      ? round(Math.max(0, probe.machineBusy * cpus().length - probe.serverCpuCores -
        parts.reduce((a, p) => a + (p.cpuSeconds ?? 0), 0) / o.seconds))
      : null,
    errors
  }
  out.ok = errors.length === 0 && out.delivery.lost === 0 && out.convergence.converged
  return out
}

async function standalone () {
  let probe
  const part = await runWorker(async () => {
    const T0 = clock() + 200
    probe = windowProbe(T0)
    return T0
  })
  const out = report([part], await probe, 1)
  console.log(JSON.stringify(out))
  process.exit(out.ok ? 0 : 1)
}

async function coordinator () {
  const self = fileURLToPath(import.meta.url)
  const k = Math.min(o.procs, o.rooms)
  const children = []
  for (let i = 0; i < k; i++) {
    const from = Math.floor((o.rooms * i) / k)
    const to = Math.floor((o.rooms * (i + 1)) / k)
    const args = [...process.argv.slice(2), '--procs', '1', '--child', '--room-from', String(from), '--room-to', String(to), '--room-prefix', o.roomPrefix]
    const child = fork(self, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const c = { child, ready: null, result: null }
    c.readyP = new Promise((resolve) => { c.ready = resolve })
    c.resultP = new Promise((resolve) => {
      child.on('message', (m) => {
        if (m.type === 'ready') c.ready(m)
        if (m.type === 'result') resolve(m.part)
      })
      child.on('exit', (code) => resolve(null))
    })
    children.push(c)
  }
  const kill = () => { for (const c of children) if (c.child.exitCode == null) c.child.kill('SIGTERM') }
  process.on('exit', kill)
  const readyTimeout = sleep((o.connectTimeout + 10) * 1000).then(() => null)
  const readies = await Promise.all(children.map((c) => Promise.race([c.readyP, readyTimeout])))
  if (readies.some((r) => r == null)) {
    console.log(JSON.stringify({ url_base: o.urlBase, ok: false, errors: ['a child process did not get ready'] }))
    process.exit(1)
  }
  const T0 = clock() + 300
  const probe = windowProbe(T0)
  for (const c of children) c.child.send({ type: 'go', T0 })
  const parts = await Promise.all(children.map((c) => c.resultP))
  if (parts.some((p) => p == null)) {
    console.log(JSON.stringify({ url_base: o.urlBase, ok: false, errors: ['a child process died before reporting'] }))
    process.exit(1)
  }
  const out = report(parts, await probe, k)
  console.log(JSON.stringify(out))
  process.exit(out.ok ? 0 : 1)
}

async function child () {
  process.on('disconnect', () => process.exit(4)) // coordinator gone
  const part = await runWorker((info) => new Promise((resolve) => {
    process.on('message', (m) => { if (m.type === 'go') resolve(m.T0) })
    process.send({ type: 'ready', ...info })
  }))
  process.send({ type: 'result', part }, () => process.exit(0))
}

if (o.child) await child()
else if (o.procs > 1) await coordinator()
else await standalone()
