#!/usr/bin/env node
// CPU a process (and its children) uses over --seconds while nothing talks to it: the server's
// own background work (timers, heartbeats, GC), to read next to the load profiles' server CPU.
import { machineBusy, machineCpu, parseArgs, procTreeCpuSeconds, round, sleep } from './lib.mjs'

const o = parseArgs(process.argv.slice(2), { pid: 0, seconds: 10 })
const c0 = procTreeCpuSeconds(o.pid)
const m0 = machineCpu()
await sleep(Math.min(o.seconds, 120) * 1000)
const c1 = procTreeCpuSeconds(o.pid)
console.log(JSON.stringify({
  pid: o.pid,
  seconds: o.seconds,
  server_cpu_cores: c0 != null && c1 != null ? round((c1 - c0) / o.seconds) : null,
  machine_cpu_busy: round(machineBusy(m0, machineCpu()))
}))
