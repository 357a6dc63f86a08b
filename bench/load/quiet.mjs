#!/usr/bin/env node
// Waits (bounded) until the machine is quiet: less than --busy of all CPU used over a 5 s sample,
// so that other jobs on this 2-core machine disturb the benchmark as little as possible. Prints one
// JSON line: how long it waited, the last sample, and the busiest processes at that time.
import { readdirSync, readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { machineCpu, machineBusy, parseArgs, procCpuSeconds, round, sleep } from './lib.mjs'

const o = parseArgs(process.argv.slice(2), { maxWait: 120, busy: 0.15, sample: 5 })

function processes () {
  const m = new Map()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    const cpu = procCpuSeconds(d)
    if (cpu != null) m.set(d, cpu)
  }
  return m
}

function cmdline (pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().slice(0, 100)
  } catch {
    return '?'
  }
}

const start = Date.now()
let sample
for (;;) {
  const m0 = machineCpu()
  const p0 = processes()
  await sleep(o.sample * 1000)
  const m1 = machineCpu()
  const p1 = processes()
  const busiest = [...p1].map(([pid, cpu]) => [pid, (cpu - (p0.get(pid) ?? cpu)) / o.sample])
    .filter(([, c]) => c >= 0.05).sort((a, b) => b[1] - a[1]).slice(0, 5)
    .map(([pid, c]) => ({ pid: Number(pid), cpu_cores: round(c, 2), cmd: cmdline(pid) }))
  sample = { busy: round(machineBusy(m0, m1)), busiest }
  if (sample.busy < o.busy || (Date.now() - start) / 1000 >= o.maxWait) break
}
console.log(JSON.stringify({
  cores: cpus().length,
  cpu_model: cpus()[0]?.model,
  mem_gib: round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]) / 1024 / 1024, 1),
  waited_s: Math.round((Date.now() - start) / 1000),
  quiet: sample.busy < o.busy,
  busy_fraction: sample.busy,
  loadavg: loadavg().map((x) => round(x, 2)),
  busiest: sample.busiest
}))
