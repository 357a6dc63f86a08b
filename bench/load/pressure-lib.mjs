// Helpers shared by the pressure profiles (burst.mjs, storm.mjs, awareness.mjs): a raw WebSocket
// client speaking y-protocols (its messages from conformance/lib/wire.mjs), the coordinator/children
// plumbing (one coordinator forks K generator processes and tells them when to start), CPU probes
// and the kernel's TCP counters.
import { execFile, fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { awarenessStateMessage, MSG_AWARENESS, MSG_SYNC, SYNC_STEP1, SYNC_STEP2, syncStep1Message, syncStep2Message } from '../../conformance/lib/wire.mjs'
import { clock, machineBusy, machineCpu, procTreeCpuSeconds, round, sleep } from './lib.mjs'

// ------------------------------------------------------------------ arguments and checks

/** Exits with 2 unless every comma-separated URL is a ws:// URL on the loopback interface. */
export function requireLoopback (urlBase) {
  const ok = urlBase.split(',').every((u) => /^wss?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(u))
  if (!ok) {
    console.error('--url-base must be a ws:// URL on the loopback interface without a path, e.g. ws://127.0.0.1:1234')
    process.exit(2)
  }
}

/** A room-name prefix Ripple accepts (room-id-pattern "(doc|diagram|task)-...") and unique per run. */
export const newRoomPrefix = (profile) => `doc-${profile}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`

/** A hard stop for the whole process, whatever happens. */
export function hardLimit (seconds, name) {
  setTimeout(() => {
    console.error(`${name}: hard time limit of ${seconds}s reached, exiting`)
    process.exit(3)
  }, seconds * 1000).unref()
}

/** Items [from, to) of n that part i of k handles. */
export const share = (n, k, i) => [Math.floor((n * i) / k), Math.floor((n * (i + 1)) / k)]

// ------------------------------------------------------------------ the raw client

const emptyDoc = new Y.Doc()
/** Sync step 1 of a client with an empty document (its state vector), as a provider sends on open. */
export const STEP1_EMPTY = syncStep1Message(Y.encodeStateVector(emptyDoc))
/** Sync step 2 of an empty document: what an empty client answers to the server's step 1. */
export const STEP2_EMPTY = syncStep2Message(Y.encodeStateAsUpdate(emptyDoc))

/** A short, countable name for a connection error ("ECONNRESET", "Unexpected server response: 503", ...). */
export const errorKind = (err) => String(err?.code || err?.message || err || 'unknown').slice(0, 80)

/**
 * One raw WebSocket client speaking y-protocols as a provider with an empty document does: on open it
 * sends sync step 1 (and, if `awareness` is set, its awareness state with clock 1); it answers the
 * server's step 1 with an empty step 2; it is synced once it has both the server's step 1 and the
 * step 2 answering its own. A failed attempt before synced is retried (up to `retries` times, with
 * y-websocket's backoff: 100 ms x 2^n, at most 2.5 s). A close after synced is only counted. No
 * handshake timeout by default (handshakeTimeoutMs 0), as the providers and browsers: a connection
 * waits for TCP (SYN retransmits, ~2 min) and the server.
 */
export class RawClient {
  constructor (url, {
    retries = 5, handshakeTimeoutMs = 0, clientId = 0, awareness = null,
    onSynced = () => {}, onGaveUp = () => {}, onAwareness = null, stats
  }) {
    this.url = url
    this.retries = retries
    this.handshakeTimeoutMs = handshakeTimeoutMs
    this.clientId = clientId
    this.clock = 0
    this.awareness = awareness
    this.onSynced = onSynced
    this.onGaveUp = onGaveUp
    this.onAwareness = onAwareness
    this.stats = stats // shared counters: { retries, errors: {}, closesAfterSync: {}, awarenessFrames }
    this.attempts = 0
    this.ws = null
    this.openAt = null
    this.syncedAt = null
    this.gotStep1 = false
    this.gotStep2 = false
    this.failed = false
    this.stopping = false
    this.retryTimer = null
  }

  connect () {
    this.attempts++
    this.gotStep1 = false
    this.gotStep2 = false
    const ws = new WebSocket(this.url, { handshakeTimeout: this.handshakeTimeoutMs > 0 ? this.handshakeTimeoutMs : undefined, perMessageDeflate: false })
    this.ws = ws
    ws.on('open', () => {
      this.openAt = clock()
      ws.send(STEP1_EMPTY)
      if (this.awareness != null) ws.send(awarenessStateMessage(this.clientId, ++this.clock, this.awareness))
    })
    ws.on('message', (data, isBinary) => {
      if (!isBinary || data.length < 1) return
      const type = data[0] // every message type is < 128: one varUint byte
      if (type === MSG_SYNC) {
        const sub = data[1]
        if (sub === SYNC_STEP1) {
          ws.send(STEP2_EMPTY)
          this.gotStep1 = true
        } else if (sub === SYNC_STEP2) this.gotStep2 = true
        if (this.gotStep1 && this.gotStep2 && this.syncedAt == null) {
          this.syncedAt = clock()
          this.onSynced(this)
        }
      } else if (type === MSG_AWARENESS) {
        this.stats.awarenessFrames++
        if (this.onAwareness) this.onAwareness(data)
      }
    })
    ws.on('error', (err) => {
      if (this.stopping) return
      const k = errorKind(err)
      this.stats.errors[k] = (this.stats.errors[k] || 0) + 1
    })
    ws.on('close', (code) => {
      if (this.stopping) return
      if (this.syncedAt != null) {
        this.stats.closesAfterSync[code] = (this.stats.closesAfterSync[code] || 0) + 1
        return
      }
      if (this.attempts <= this.retries) {
        this.stats.retries++
        const backoff = Math.min(100 * 2 ** (this.attempts - 1), 2500)
        this.retryTimer = setTimeout(() => this.connect(), backoff)
      } else {
        this.failed = true
        this.onGaveUp(this)
      }
    })
  }

  send (buf) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(buf)
      return true
    }
    return false
  }

  /** Closes with 1000; resolves when closed, or terminates the socket after timeoutMs. */
  close (timeoutMs = 5000) {
    this.stopping = true
    clearTimeout(this.retryTimer)
    const ws = this.ws
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        ws.terminate()
        resolve()
      }, timeoutMs)
      ws.once('close', () => {
        clearTimeout(t)
        resolve()
      })
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate()
      else ws.close(1000)
    })
  }
}

// ------------------------------------------------------------------ coordinator and children

/**
 * Forks k children of `script` with argsFor(i). Returns { all(type, timeoutMs) -> the next message
 * of that type from every child (null for a child that died or did not answer in time),
 * send(msg) to every child, kill() }. The children are killed when this process exits.
 */
export function forkChildren (script, k, argsFor) {
  const kids = []
  for (let i = 0; i < k; i++) {
    const child = fork(script, argsFor(i), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const kid = { child, inbox: new Map(), waiters: new Map(), exited: false }
    child.on('message', (m) => {
      const w = kid.waiters.get(m.type)
      if (w && w.length) w.shift()(m)
      else {
        if (!kid.inbox.has(m.type)) kid.inbox.set(m.type, [])
        kid.inbox.get(m.type).push(m)
      }
    })
    child.on('exit', () => {
      kid.exited = true
      for (const ws of kid.waiters.values()) for (const w of ws.splice(0)) w(null)
    })
    kids.push(kid)
  }
  const next = (kid, type) => new Promise((resolve) => {
    const q = kid.inbox.get(type)
    if (q && q.length) return resolve(q.shift())
    if (kid.exited) return resolve(null)
    if (!kid.waiters.has(type)) kid.waiters.set(type, [])
    kid.waiters.get(type).push(resolve)
  })
  const kill = () => {
    for (const kid of kids) if (kid.child.exitCode == null && kid.child.signalCode == null) kid.child.kill('SIGTERM')
  }
  process.on('exit', kill)
  return {
    all: (type, timeoutMs) => Promise.all(kids.map((kid) => Promise.race([
      next(kid, type),
      new Promise((resolve) => setTimeout(() => resolve(null), timeoutMs).unref())
    ]))),
    send: (msg) => {
      for (const kid of kids) if (!kid.exited && kid.child.connected) kid.child.send(msg)
    },
    kill
  }
}

/** The child's side: next(type) resolves with the coordinator's next message of that type; send(msg). */
export function childChannel () {
  const inbox = new Map()
  const waiters = new Map()
  process.on('disconnect', () => process.exit(4)) // coordinator gone
  process.on('message', (m) => {
    const w = waiters.get(m.type)
    if (w && w.length) w.shift()(m)
    else {
      if (!inbox.has(m.type)) inbox.set(m.type, [])
      inbox.get(m.type).push(m)
    }
  })
  return {
    next: (type) => new Promise((resolve) => {
      const q = inbox.get(type)
      if (q && q.length) return resolve(q.shift())
      if (!waiters.has(type)) waiters.set(type, [])
      waiters.get(type).push(resolve)
    }),
    send: (msg) => new Promise((resolve) => process.send(msg, resolve))
  }
}

// ------------------------------------------------------------------ measuring

/** CPU seconds of the servers' process trees (comma-separated pids), or null if one is gone / none given. */
export function serversCpuSeconds (pids) {
  const list = String(pids).split(',').map(Number).filter((n) => n > 0)
  if (!list.length) return null
  let total = 0
  for (const pid of list) {
    const t = procTreeCpuSeconds(pid)
    if (t == null) return null
    total += t
  }
  return total
}

/** Machine-wide irq + softirq time so far, in CPU seconds (/proc/stat, USER_HZ = 100). */
function irqSeconds () {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return ((v[5] || 0) + (v[6] || 0)) / 100
}

/**
 * The server's CPU, the machine's CPU, this process's CPU over an interval: start() then stop(),
 * which returns { seconds, serverCpuSeconds, machineBusy, selfCpuSeconds, irqCpuSeconds }. Interrupt
 * time (mostly the loopback traffic's softirq, which no process is charged for) is counted apart.
 */
export class Probe {
  constructor (serverPid) {
    this.serverPid = serverPid
  }

  start () {
    this.t0 = clock()
    this.s0 = serversCpuSeconds(this.serverPid)
    this.m0 = machineCpu()
    this.i0 = irqSeconds()
    this.c0 = process.cpuUsage()
  }

  stop () {
    const s1 = serversCpuSeconds(this.serverPid)
    const c = process.cpuUsage(this.c0)
    return {
      seconds: (clock() - this.t0) / 1000,
      serverCpuSeconds: this.s0 != null && s1 != null ? s1 - this.s0 : null,
      machineBusy: machineBusy(this.m0, machineCpu()),
      irqCpuSeconds: irqSeconds() - this.i0,
      selfCpuSeconds: (c.user + c.system) / 1e6
    }
  }
}

/**
 * CPU cores used by everything else on the machine over a probe's interval: machine busy minus the
 * server, the generator (children's CPU seconds + the coordinator's) and interrupt time (the
 * benchmark's own loopback traffic, mostly). Other jobs disturb the numbers.
 */
export function otherCpuCores (probe, generatorCpuSeconds) {
  if (probe.machineBusy == null || probe.serverCpuSeconds == null || !(probe.seconds > 0)) return null
  return round(Math.max(0, probe.machineBusy * cpus().length -
    (probe.serverCpuSeconds + generatorCpuSeconds + probe.selfCpuSeconds + probe.irqCpuSeconds) / probe.seconds))
}

/** Interrupt (irq + softirq) CPU cores over a probe's interval. */
export const irqCpuCores = (probe) => (probe.seconds > 0 ? round(probe.irqCpuSeconds / probe.seconds) : null)

const ELD_RESOLUTION_MS = 2
/** Event-loop delay of this process: start(), then stop() -> { p50, p99, max } in ms, resolution subtracted. */
export class EventLoopDelay {
  constructor () {
    this.h = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS })
  }

  start () {
    this.h.enable()
  }

  stop () {
    this.h.disable()
    const ms = (ns) => round(Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS))
    return { p50: ms(this.h.percentile(50)), p99: ms(this.h.percentile(99)), max: ms(this.h.max) }
  }
}

/** TCP counters of this network namespace worth reading next to a connection storm. */
const TCP_COUNTERS = [
  'TcpExt.ListenOverflows', 'TcpExt.ListenDrops', 'TcpExt.TCPSynRetrans', 'Tcp.RetransSegs',
  'TcpExt.TCPReqQFullDrop', 'TcpExt.TCPReqQFullDoCookies', 'TcpExt.SyncookiesSent', 'TcpExt.TCPTimeouts',
  'Tcp.ActiveOpens', 'Tcp.PassiveOpens', 'Tcp.AttemptFails', 'Tcp.EstabResets', 'TcpExt.TCPAbortOnData'
]

/** The counters above from /proc/net/netstat and /proc/net/snmp (header line, value line pairs). */
export function tcpCounters () {
  const all = {}
  for (const f of ['/proc/net/netstat', '/proc/net/snmp']) {
    let lines
    try {
      lines = readFileSync(f, 'utf8').trim().split('\n')
    } catch {
      continue
    }
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const h = lines[i].trim().split(/\s+/)
      const v = lines[i + 1].trim().split(/\s+/)
      const prefix = h[0].replace(/:$/, '')
      for (let j = 1; j < h.length; j++) all[`${prefix}.${h[j]}`] = Number(v[j])
    }
  }
  return Object.fromEntries(TCP_COUNTERS.filter((k) => k in all).map((k) => [k, all[k]]))
}

export function tcpDelta (a, b) {
  return Object.fromEntries(Object.keys(b).filter((k) => k in a).map((k) => [k.replace(/^Tcp(Ext)?\./, ''), b[k] - a[k]]))
}

/**
 * Samples the accept queue of the socket listening on 127.0.0.1:port with `ss -ltnH` every everyMs
 * until stop(): the largest Recv-Q seen (connections the kernel has accepted and the server has not
 * yet taken) and Send-Q (the backlog, the queue's limit). Unlike the namespace-wide counters, this is
 * the server's own socket. stop() resolves { samples, max_queue, backlog } (null values without ss).
 */
export function acceptQueueSampler (port, everyMs = 100) {
  const res = { samples: 0, max_queue: null, backlog: null }
  let stopped = false
  let available = true
  const once = () => new Promise((resolve) => {
    execFile('ss', ['-ltnH', `sport = :${port}`], { timeout: 2000 }, (err, stdout) => {
      if (err) {
        available = false
        return resolve()
      }
      for (const line of stdout.trim().split('\n')) {
        const f = line.trim().split(/\s+/) // State Recv-Q Send-Q Local Peer
        if (f.length < 4 || f[0] !== 'LISTEN') continue
        res.samples++
        res.max_queue = Math.max(res.max_queue ?? 0, Number(f[1]))
        res.backlog = Number(f[2])
      }
      resolve()
    })
  })
  const loop = (async () => {
    while (!stopped && available) {
      await once()
      await sleep(everyMs)
    }
  })()
  return {
    stop: async () => {
      stopped = true
      await loop
      return res
    }
  }
}

/** The open-file limit of this process (soft, hard) from /proc/self/limits. */
export function fileLimit () {
  try {
    const m = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m ? { soft: m[1] === 'unlimited' ? Infinity : Number(m[1]), hard: m[2] === 'unlimited' ? Infinity : Number(m[2]) } : null
  } catch {
    return null
  }
}

/** Adds fields of counter objects ({ key: n }) into one. */
export function addCounts (into, from) {
  for (const [k, n] of Object.entries(from || {})) into[k] = (into[k] || 0) + n
  return into
}
