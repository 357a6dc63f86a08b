#!/usr/bin/env node
// Self-test of check.mjs: yjs's own outputs must pass (even with --strict-bytes),
// and each corrupted variant must fail, naming the corrupted step/merge.
// Usage: node selftest.mjs [trace.json ...]   (without arguments: generates traces for a few seeds)
import * as Y from 'yjs'
import { readFileSync, mkdtempSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCheck, formatBytes } from './check.mjs'
import { b64, unb64, newDoc } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))

/** java-out built from yjs's own results, recorded in the trace. */
export const fakeJavaOut = (trace) => ({
  steps: trace.steps.map(s => {
    const o = { sv: s.sv, pending: JSON.parse(JSON.stringify(s.pending)), probeDiff: s.probeDiff }
    if (s.state != null) o.state = s.state
    return o
  }),
  merges: (trace.merges || []).map(m => ({ merged: m.merged, diff: m.diff, svFromUpdate: m.svFromUpdate }))
})

const clone = (x) => JSON.parse(JSON.stringify(x))
let problems = 0
const expect = (cond, msg) => {
  if (!cond) { problems++; console.log('SELFTEST PROBLEM: ' + msg) } else console.log('  ok: ' + msg)
}
const mustFail = (trace, java, label, needle, opts = {}) => {
  const r = runCheck(trace, java, opts)
  expect(r.failed > 0 && r.failures.some(f => f.includes(needle)),
    `${label} -> detected (${r.failed} failed; first: ${r.failures[0] || 'none'})`)
}

/** state vector bytes with one clock bumped */
const bumpSv = (svB64) => {
  const sv = Y.decodeStateVector(unb64(svB64))
  const [k] = [...sv.keys()]
  sv.set(k, sv.get(k) + 1)
  const d = new Y.Doc()
  // encode via lib0 layout: varuint n, (varuint client, varuint clock)*
  const enc = []
  const writeVarUint = (n) => { while (n > 127) { enc.push(128 | (n % 128)); n = Math.floor(n / 128) } enc.push(n) }
  writeVarUint(sv.size)
  for (const [c, v] of sv) { writeVarUint(c); writeVarUint(v) }
  d.destroy()
  return b64(new Uint8Array(enc))
}

const testTrace = (path) => {
  console.log(`selftest on ${path}`)
  const trace = JSON.parse(readFileSync(path, 'utf8'))
  const java = fakeJavaOut(trace)
  const t0 = Date.now()
  const r = runCheck(trace, java, { strictBytes: true, strictMergeBytes: true })
  expect(r.failed === 0, `yjs's own outputs pass with --strict-bytes (${r.passed} passed, ${r.failed} failed; ${Date.now() - t0} ms)`)
  for (const f of r.failures.slice(0, 10)) console.log('    ' + f)
  console.log('    ' + formatBytes(r.bytes))

  const n = trace.steps.length
  // 1. a state replaced with the previous step's state (pick a step where content changed)
  {
    const idx = trace.steps.findIndex((s, i) => i > n / 2 && s.state != null && trace.steps[i - 1].state != null &&
      s.sv !== trace.steps[i - 1].sv)
    if (idx > 0) {
      const j = clone(java); j.steps[idx].state = trace.steps[idx - 1].state
      mustFail(trace, j, `state of step ${idx} replaced by step ${idx - 1}'s`, `step ${idx}: state`)
    }
  }
  // 2. the last byte-meaningful struct dropped from a state: rebuild the state from the updates minus the last one that added something
  {
    const idx = n - 1
    const j = clone(java)
    const upds = trace.steps.slice(0, idx + 1).map(s => unb64(s.update))
    const d = newDoc(trace.gc)
    for (const u of upds.slice(0, -1)) Y.applyUpdate(d, u)
    if (Y.encodeStateAsUpdate(d).length > 0 && trace.steps[idx].sv !== trace.steps[idx - 1].sv) {
      j.steps[idx].state = b64(Y.encodeStateAsUpdate(d))
      mustFail(trace, j, `state of final step ${idx} missing its last delivered update`, `step ${idx}: state`)
    }
  }
  // 3. truncated state (last byte removed)
  {
    const idx = n - 2
    const j = clone(java)
    if (j.steps[idx].state) {
      const s = unb64(j.steps[idx].state)
      j.steps[idx].state = b64(s.slice(0, s.length - 1))
      mustFail(trace, j, `state of step ${idx} truncated by one byte`, `step ${idx}: state`)
    }
  }
  // 4. sv with a bumped clock
  {
    const idx = Math.floor(n / 3)
    const j = clone(java); j.steps[idx].sv = bumpSv(j.steps[idx].sv)
    mustFail(trace, j, `sv of step ${idx} with a bumped clock`, `step ${idx}: sv`)
  }
  // 5. pending flipped
  {
    const idx = trace.steps.findIndex(s => s.pending.structs != null)
    if (idx >= 0) {
      const j = clone(java); j.steps[idx].pending.structs = null
      mustFail(trace, j, `pending.structs of step ${idx} nulled`, `step ${idx}: pending`)
    }
    const idx2 = trace.steps.findIndex(s => s.pending.ds)
    if (idx2 >= 0) {
      const j = clone(java); j.steps[idx2].pending.ds = false
      mustFail(trace, j, `pending.ds of step ${idx2} cleared`, `step ${idx2}: pending`)
    }
  }
  // 6. probeDiff replaced by an empty update where the real one is non-trivial
  {
    const empty = b64(Y.encodeStateAsUpdate(new Y.Doc()))
    const idx = trace.steps.findIndex((s, i) => i > 5 && s.probeDiff.length > 200)
    if (idx >= 0) {
      const j = clone(java); j.steps[idx].probeDiff = empty
      mustFail(trace, j, `probeDiff of step ${idx} replaced by an empty update`, `step ${idx}: probe`)
    }
  }
  // 7. merged replaced by one of its inputs; diff replaced by empty; svFromUpdate bumped
  if (trace.merges && trace.merges.length > 0) {
    const mi = trace.merges.findIndex(m => m.updates.length >= 2 && m.updates[0] !== m.updates[1])
    if (mi >= 0) {
      const j = clone(java); j.merges[mi].merged = trace.merges[mi].updates[0]
      mustFail(trace, j, `merge ${mi}: merged replaced by its first input`, `merge ${mi}: merged`)
    }
    const di = trace.merges.findIndex(m => m.diff.length > 100)
    if (di >= 0) {
      const j = clone(java); j.merges[di].diff = b64(Y.encodeStateAsUpdate(new Y.Doc()))
      mustFail(trace, j, `merge ${di}: diff replaced by an empty update`, `merge ${di}: diff`)
    }
    const si = trace.merges.findIndex(m => unb64(m.svFromUpdate).length > 1)
    if (si >= 0) {
      const j = clone(java); j.merges[si].svFromUpdate = bumpSv(j.merges[si].svFromUpdate)
      mustFail(trace, j, `merge ${si}: svFromUpdate with a bumped clock`, `merge ${si}: svFromUpdate`)
    }
  }
  // 8. semantically equal but byte-different state: passes normally, fails with --strict-bytes
  {
    const idx = trace.steps.findIndex((s, i) => i > 3 && s.state != null && s.pending.structs == null && !s.pending.ds &&
      trace.steps.slice(0, i + 1).every(x => x.pending.structs == null && !x.pending.ds))
    const idx2 = idx >= 0 ? idx : -1
    if (idx2 >= 0) {
      const merged = Y.mergeUpdates(trace.steps.slice(0, idx2 + 1).map(s => unb64(s.update)))
      if (!trace.gc && b64(merged) !== trace.steps[idx2].state) {
        const j = clone(java); j.steps[idx2].state = b64(merged)
        const r1 = runCheck(trace, j, {})
        expect(r1.failed === 0, `byte-different but equivalent state at step ${idx2} passes without --strict-bytes (${r1.failures[0] || 'no failure'})`)
        mustFail(trace, j, 'same with --strict-bytes', `step ${idx2}: state: bytes differ`, { strictBytes: true })
      }
    }
  }
  // 9. missing step
  {
    const j = clone(java); j.steps.pop()
    mustFail(trace, j, 'java-out with one step fewer', 'missing')
  }
}

let paths = process.argv.slice(2)
if (paths.length === 0) {
  const dir = mkdtempSync(join(tmpdir(), 'yconf-'))
  for (const [seed, gc] of [[1, 'true'], [1, 'false'], [2, 'true'], [3, 'false']]) {
    const p = join(dir, `t${seed}-${gc}.json`)
    execFileSync(process.execPath, [join(here, 'gen.mjs'), '--seed', String(seed), '--steps', '200', '--gc', gc, '--quiet', '--out', p], { stdio: 'inherit' })
    paths.push(p)
  }
}
for (const p of paths) testTrace(p)
console.log(problems === 0 ? 'selftest: all good' : `selftest: ${problems} problem(s)`)
process.exit(problems === 0 ? 0 : 1)
