// Small helpers shared by loadgen.mjs, memory.mjs and report.mjs: argument parsing, one clock for
// every process on this machine, a mergeable latency histogram, and CPU readings from /proc.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'

/** Milliseconds since the epoch with sub-millisecond resolution; comparable across processes here. */
export const clock = () => performance.timeOrigin + performance.now()

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * `--name value` and `--flag` pairs into an object; values that look like numbers become numbers.
 * Unknown names are an error, so a typo does not silently run the default.
 */
export function parseArgs (argv, defaults) {
  const out = { ...defaults }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`)
    const eq = a.indexOf('=')
    const name = (eq > 0 ? a.slice(2, eq) : a.slice(2)).replace(/-([a-z])/g, (_, c) => c.toUpperCase())
    if (!(name in defaults)) throw new Error(`unknown option ${a}`)
    let value
    if (eq > 0) value = a.slice(eq + 1)
    else if (typeof defaults[name] === 'boolean') value = 'true'
    else value = argv[++i]
    if (value === undefined) throw new Error(`option ${a} needs a value`)
    if (typeof defaults[name] === 'boolean') out[name] = value !== 'false' && value !== '0'
    else if (typeof defaults[name] === 'number') {
      const n = Number(value)
      if (!Number.isFinite(n)) throw new Error(`option ${a} needs a number, got ${value}`)
      out[name] = n
    } else out[name] = value
  }
  return out
}

/**
 * Latency histogram in 10 µs bins up to 1 s (exact values kept above that). Percentiles are the
 * upper edge of their bin, so they overstate by at most 10 µs. Serialisable and mergeable, so
 * child processes can send theirs to the coordinator.
 */
export class Hist {
  static BINS = 100_000
  static PER_MS = 100

  constructor () {
    this.bins = new Uint32Array(Hist.BINS)
    this.over = []
    this.n = 0
    this.sum = 0
    this.max = 0
  }

  add (ms) {
    if (!(ms >= 0)) ms = 0
    const b = Math.floor(ms * Hist.PER_MS)
    if (b < Hist.BINS) this.bins[b]++
    else this.over.push(ms)
    this.n++
    this.sum += ms
    if (ms > this.max) this.max = ms
  }

  percentile (p) {
    if (this.n === 0) return null
    const rank = Math.max(1, Math.ceil((p / 100) * this.n))
    let seen = 0
    for (let i = 0; i < Hist.BINS; i++) {
      seen += this.bins[i]
      if (seen >= rank) return Math.min((i + 1) / Hist.PER_MS, this.max)
    }
    const over = [...this.over].sort((a, b) => a - b)
    return over[rank - seen - 1]
  }

  summary () {
    const r = (x) => (x == null ? null : Math.round(x * 1000) / 1000)
    return {
      count: this.n,
      mean: r(this.n ? this.sum / this.n : null),
      p50: r(this.percentile(50)),
      p90: r(this.percentile(90)),
      p99: r(this.percentile(99)),
      p999: r(this.percentile(99.9)),
      max: r(this.n ? this.max : null)
    }
  }

  toJSON () {
    const sparse = []
    for (let i = 0; i < Hist.BINS; i++) if (this.bins[i]) sparse.push(i, this.bins[i])
    return { sparse, over: this.over, n: this.n, sum: this.sum, max: this.max }
  }

  mergeJSON (j) {
    for (let k = 0; k < j.sparse.length; k += 2) this.bins[j.sparse[k]] += j.sparse[k + 1]
    for (const v of j.over) this.over.push(v)
    this.n += j.n
    this.sum += j.sum
    if (j.max > this.max) this.max = j.max
  }
}

const CLK_TCK = 100 // USER_HZ on Linux

/**
 * CPU seconds a process (/proc/<pid>/stat) or one of its threads (/proc/<pid>/task/<tid>/stat) has
 * used so far, user and system apart; null if gone.
 */
export function statCpuSeconds (statPath) {
  try {
    const stat = readFileSync(statPath, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // after "pid (comm) ": state is field 3, utime 14, stime 15 (1-based) => index 11 and 12 here
    return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK }
  } catch {
    return null
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; null if gone. */
export function procCpuSeconds (pid) {
  const t = statCpuSeconds(`/proc/${pid}/stat`)
  return t == null ? null : t.user + t.sys
}

/** CPU seconds of a process and all its descendants that are alive now (for `npx`-style wrappers). */
export function procTreeCpuSeconds (pid) {
  let total = procCpuSeconds(pid)
  if (total == null) return null
  for (const child of childPids(pid)) total += procTreeCpuSeconds(child) ?? 0
  return total
}

function childPids (pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

/** Resident set size of a process in MiB, or null. */
export function procRssMiB (pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

/** Machine-wide CPU counters (all cores), to compute the busy fraction between two readings. */
export function machineCpu () {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  const idle = v[3] + (v[4] || 0)
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0)
  return { idle, total }
}

export function machineBusy (a, b) {
  const dt = b.total - a.total
  return dt > 0 ? 1 - (b.idle - a.idle) / dt : null
}

export const round = (x, digits = 3) => (x == null ? null : Math.round(x * 10 ** digits) / 10 ** digits)

/** The last JSON line of <dir>/<name>.json (a result written by run.sh or cluster.sh), or null. */
export function readResult (dir, name) {
  const f = join(dir, `${name}.json`)
  if (!existsSync(f)) return null
  try {
    return JSON.parse(readFileSync(f, 'utf8').trim().split('\n').pop())
  } catch {
    return null
  }
}
