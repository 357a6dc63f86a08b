// Helpers for profile.sh (where Ripple's CPU goes under load). Two commands:
//
//   node profile.mjs threads PID SECONDS
//     CPU of each thread group of PID over SECONDS (from /proc/PID/task/*/stat; threads are grouped
//     by name without their trailing number), user and kernel time apart. Prints one JSON line.
//
//   node profile.mjs report COLLAPSED THREADS.json LOADGEN.json
//     Reads async-profiler's collapsed stacks (itimer: every thread, user and kernel time) and
//     prints a Markdown report: the load, the thread groups, the share of samples per component
//     (each sample goes to the component of its frame nearest the leaf that belongs to one), and
//     the hottest leaf frames.
import fs from 'node:fs'
import { statCpuSeconds } from './lib.mjs'

const [cmd, ...args] = process.argv.slice(2)

function threadTimes (pid) {
  const out = new Map()
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/[-#]?\d+$/, '')
      const cpu = statCpuSeconds(`/proc/${pid}/task/${tid}/stat`)
      if (cpu) out.set(tid, { name, ...cpu })
    } catch { /* the thread ended meanwhile */ }
  }
  return out
}

async function threads (pid, seconds) {
  const a = threadTimes(pid)
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  const b = threadTimes(pid)
  const groups = {}
  for (const [tid, t] of b) {
    const before = a.get(tid) ?? { user: 0, sys: 0 }
    const g = (groups[t.name] ??= { threads: 0, user_cores: 0, sys_cores: 0 })
    g.threads++
    g.user_cores += (t.user - before.user) / seconds
    g.sys_cores += (t.sys - before.sys) / seconds
  }
  console.log(JSON.stringify({ pid: Number(pid), seconds: Number(seconds), groups }))
}

// component of a frame; the first rule that matches wins
const COMPONENTS = [
  ['H2, slick, JDBC (the journal\'s database work)', ['org/h2/', 'slick/', 'com/zaxxer/']],
  ['Yjs engine', ['dev/ripple/collab/yjs/']],
  ['room (Room, its protocol handling)', ['dev/ripple/collab/room/']],
  ['session (Session, WebSocketFrames, protocol decoding)', ['dev/ripple/collab/session/', 'dev/ripple/collab/protocol/']],
  ['akka-persistence', ['akka/persistence/']],
  ['TCP: akka.io and the socket system calls', ['akka/io/', 'akka/stream/impl/io/Tcp', '__GI_write', '__GI_read', 'epoll', '__libc_write', '__libc_read', 'writev', 'readv']],
  ['akka-http WebSocket framing', ['akka/http/impl/engine/ws/']],
  ['akka-http, other', ['akka/http/']],
  ['thread hand-offs: park and unpark (futex)', ['pthread_cond_signal', 'futex', 'Unsafe.park', 'Unsafe.unpark', '__lll_lock_wake', 'Parker::']],
  ['Akka Streams interpreter', ['akka/stream/']],
  ['actors: mailboxes and dispatch', ['akka/actor/', 'akka/dispatch/', 'java/util/concurrent/ForkJoin']],
  ['JVM: GC, JIT compiler, runtime', ['G1', 'GC', 'Compile', 'C2', 'JIT', 'ConnectionGraph', 'Thread::', 'PhaseIdeal', 'Node::']]
]

function component (frames) {
  for (let i = frames.length - 1; i >= 0; i--) {
    for (const [name, keys] of COMPONENTS) if (keys.some((k) => frames[i].includes(k))) return name
  }
  return 'other'
}

function report (collapsedFile, threadsFile, loadFile) {
  const lines = fs.readFileSync(collapsedFile, 'utf8').split('\n').filter(Boolean)
  let total = 0
  const byComponent = new Map()
  const byLeaf = new Map()
  for (const line of lines) {
    const cut = line.lastIndexOf(' ')
    const n = Number(line.slice(cut + 1))
    const frames = line.slice(0, cut).split(';')
    total += n
    const c = component(frames)
    byComponent.set(c, (byComponent.get(c) ?? 0) + n)
    const leaf = frames[frames.length - 1].replace(/_\[[a-z]\]$/, '')
    byLeaf.set(leaf, (byLeaf.get(leaf) ?? 0) + n)
  }
  const pct = (n) => (100 * n / total).toFixed(1) + '%'
  const load = JSON.parse(fs.readFileSync(loadFile, 'utf8').trim().split('\n').pop())
  const th = JSON.parse(fs.readFileSync(threadsFile, 'utf8'))
  const l = load.latency_ms ?? {}
  const out = []
  out.push(`Load: ${load.rooms} rooms x ${load.clients_per_room} clients x ${load.rate_per_client} updates/s, p50 ${l.p50} / p99 ${l.p99} ms; ${load.achieved_updates_per_s} updates/s; ` +
    `server ${load.server_cpu_cores} cores = ${Math.round(load.server_cpu_cores / load.achieved_updates_per_s * 1e6)} µs per update (fan-out included); ` +
    `generator ${load.generator?.cpu_cores} cores (saturated: ${load.generator?.saturated}); other jobs ${load.other_cpu_cores} cores; lost ${load.delivery?.lost}`)
  out.push('')
  out.push(`Thread groups over ${th.seconds} s of the window (cores):`)
  out.push('')
  out.push('| threads | count | user | kernel |')
  out.push('|---|---|---|---|')
  for (const [name, g] of Object.entries(th.groups).sort((a, b) => (b[1].user_cores + b[1].sys_cores) - (a[1].user_cores + a[1].sys_cores))) {
    if (g.user_cores + g.sys_cores < 0.005) continue
    out.push(`| ${name} | ${g.threads} | ${g.user_cores.toFixed(2)} | ${g.sys_cores.toFixed(2)} |`)
  }
  out.push('')
  out.push(`async-profiler, itimer, ${total} samples:`)
  out.push('')
  out.push('| share | component |')
  out.push('|---|---|')
  for (const [c, n] of [...byComponent].sort((a, b) => b[1] - a[1])) out.push(`| ${pct(n)} | ${c} |`)
  out.push('')
  out.push('| share | hottest leaf frames |')
  out.push('|---|---|')
  for (const [f, n] of [...byLeaf].sort((a, b) => b[1] - a[1]).slice(0, 15)) out.push(`| ${pct(n)} | \`${f}\` |`)
  console.log(out.join('\n'))
}

if (cmd === 'threads' && args.length === 2) {
  await threads(args[0], Number(args[1]))
} else if (cmd === 'report' && args.length === 3) {
  report(...args)
} else {
  console.error('usage: node profile.mjs threads PID SECONDS | report COLLAPSED THREADS.json LOADGEN.json')
  process.exit(2)
}
