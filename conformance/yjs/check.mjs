#!/usr/bin/env node
// Verifier: compares the Java engine's outputs for a trace against yjs.
// Usage: node check.mjs <trace.json> <java-out.json> [--strict-bytes] [--strict-merge-bytes] [--max-failures N]
import * as Y from 'yjs'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import {
  ROOTS, unb64, bytesEqual, newDoc, pendingOf, pendingEqual, contentOf, describeDiff, svToString
} from './lib.mjs'

const svMapOf = (bytes) => Y.decodeStateVector(bytes)

/** Everything observable about a doc that the checks compare. */
const observe = (doc, roots) => ({
  content: contentOf(doc, roots),
  sv: svToString(svMapOf(Y.encodeStateVector(doc))),
  pending: pendingOf(doc)
})

const hasPending = (p) => p.structs != null || p.ds

const fromUpdates = (gc, roots, updates) => {
  const doc = newDoc(gc, roots)
  for (const u of updates) Y.applyUpdate(doc, u)
  return doc
}

/**
 * Run every check. Returns { passed, failed, failures: string[], bytes: {...}, items }.
 * @param {any} trace
 * @param {any} java
 * @param {{strictBytes?: boolean, strictMergeBytes?: boolean}} opts
 */
export const runCheck = (trace, java, opts = {}) => {
  const gc = trace.gc !== false
  const roots = trace.roots || ROOTS
  const failures = []
  const bytes = {
    sv: [0, 0], state: [0, 0], diff: [0, 0],
    merged: [0, 0], mergeDiff: [0, 0], svFromUpdate: [0, 0]
  }
  const countBytes = (key, expected, actual, strict, where) => {
    bytes[key][1]++
    if (bytesEqual(expected, actual)) bytes[key][0]++
    else if (strict) return [`${where}: bytes differ from yjs (${actual.length} vs ${expected.length} bytes)`]
    return []
  }
  let passed = 0
  let failed = 0
  const javaSteps = (java && java.steps) || []
  const javaMerges = (java && java.merges) || []

  if (javaSteps.length !== trace.steps.length) {
    failures.push(`steps: java-out has ${javaSteps.length} steps, trace has ${trace.steps.length}`)
  }
  if (javaMerges.length !== (trace.merges || []).length) {
    failures.push(`merges: java-out has ${javaMerges.length} entries, trace has ${(trace.merges || []).length}`)
  }

  // ------------------------------------------------------------------ steps
  // the reference is a server's doc: root types are never accessed on it, so they stay untyped and
  // only nested texts run yjs's formatting cleanup (as in y-websocket's and y-partykit's servers)
  const ref = new Y.Doc({ gc })
  for (let i = 0; i < trace.steps.length; i++) {
    const st = trace.steps[i]
    const js = javaSteps[i]
    const errs = []
    const at = (what) => `step ${i}: ${what}`
    try {
      Y.applyUpdate(ref, unb64(st.update))
    } catch (e) {
      failures.push(at(`reference yjs could not apply the trace update (${e.message}); trace is unusable`))
      failed++
      break
    }
    const refSvBytes = Y.encodeStateVector(ref)
    const refSv = svToString(svMapOf(refSvBytes))
    const refPending = pendingOf(ref)
    const refContent = contentOf(fromUpdates(gc, roots, [Y.encodeStateAsUpdate(ref)]), roots)
    if (st.sv != null && !bytesEqual(unb64(st.sv), refSvBytes)) {
      errs.push(at('trace.sv does not match the replayed reference (trace made with a different yjs?)'))
    }
    if (js == null) {
      failures.push(at('missing in java-out'))
      failed++
      continue
    }
    // -- sv
    try {
      if (js.sv == null) errs.push(at('sv missing'))
      else {
        const jsv = unb64(js.sv)
        const got = svToString(svMapOf(jsv))
        if (got !== refSv) errs.push(at(`sv differs: expected ${refSv} got ${got}`))
        errs.push(...countBytes('sv', refSvBytes, jsv, opts.strictBytes, at('sv')))
      }
    } catch (e) { errs.push(at(`sv could not be decoded: ${e.message}`)) }
    // -- pending reported by java
    if (js.pending == null) errs.push(at('pending missing'))
    else if (!pendingEqual(js.pending, refPending)) {
      errs.push(at(`pending differs: expected ${JSON.stringify(refPending)} got ${JSON.stringify(js.pending)}`))
    }
    // -- state
    if (js.state == null) {
      if (st.state != null) errs.push(at('state missing (the trace has one at this step)'))
    } else {
      try {
        const jstate = unb64(js.state)
        const refState = Y.encodeStateAsUpdate(ref)
        errs.push(...countBytes('state', refState, jstate, opts.strictBytes, at('state')))
        if (st.state != null && !bytesEqual(unb64(st.state), refState)) {
          errs.push(at('trace.state does not match the replayed reference (trace made with a different yjs?)'))
        }
        const o = observe(fromUpdates(gc, roots, [jstate]), roots)
        // expected: what yjs's own state yields in a fresh doc. Without pending data that is the
        // reference itself; with pending data a fresh doc may integrate structs that the live
        // reference still holds back (its missing-map is not recomputed), so ask yjs.
        const exp = hasPending(refPending) ? observe(fromUpdates(gc, roots, [refState]), roots)
          : { content: refContent, sv: refSv, pending: refPending }
        if (o.content !== exp.content) errs.push(at('state content differs: ' + describeDiff(exp.content, o.content)))
        if (o.sv !== exp.sv) errs.push(at(`state: state vector of a doc built from it differs: expected ${exp.sv} got ${o.sv}`))
        if (!pendingEqual(o.pending, exp.pending)) {
          errs.push(at(`state: pending of a doc built from it differs: expected ${JSON.stringify(exp.pending)} got ${JSON.stringify(o.pending)}`))
        }
      } catch (e) { errs.push(at(`state could not be applied: ${e.message}`)) }
    }
    // -- probe diff
    if (st.probeState != null) {
      if (js.probeDiff == null) errs.push(at('probeDiff missing'))
      else {
        try {
          const probeState = unb64(st.probeState)
          const probeSv = unb64(st.probeSv)
          const jdiff = unb64(js.probeDiff)
          const refDiff = Y.encodeStateAsUpdate(ref, probeSv)
          errs.push(...countBytes('diff', refDiff, jdiff, opts.strictBytes, at('probeDiff')))
          const o = observe(fromUpdates(gc, roots, [probeState, jdiff]), roots)
          const probeDoc = fromUpdates(gc, roots, [probeState])
          const exp = hasPending(refPending) || hasPending(pendingOf(probeDoc))
            ? observe(fromUpdates(gc, roots, [probeState, refDiff]), roots)
            : { content: refContent, sv: refSv, pending: refPending }
          if (o.content !== exp.content) errs.push(at('probeState+probeDiff content differs: ' + describeDiff(exp.content, o.content)))
          if (o.sv !== exp.sv) errs.push(at(`probeState+probeDiff state vector differs: expected ${exp.sv} got ${o.sv}`))
          if (!pendingEqual(o.pending, exp.pending)) {
            errs.push(at(`probeState+probeDiff pending differs: expected ${JSON.stringify(exp.pending)} got ${JSON.stringify(o.pending)}`))
          }
        } catch (e) { errs.push(at(`probeDiff could not be applied: ${e.message}`)) }
      }
    }
    if (errs.length === 0) passed++
    else { failed++; failures.push(...errs) }
  }

  // ----------------------------------------------------------------- merges
  const tmerges = trace.merges || []
  for (let i = 0; i < tmerges.length; i++) {
    const m = tmerges[i]
    const jm = javaMerges[i]
    const at = (what) => `merge ${i}: ${what}`
    const errs = []
    if (jm == null) { failures.push(at('missing in java-out')); failed++; continue }
    let yMerged
    try {
      yMerged = Y.mergeUpdates(m.updates.map(unb64))
      if (!bytesEqual(yMerged, unb64(m.merged))) errs.push(at('trace.merged does not match Y.mergeUpdates (trace made with a different yjs?)'))
    } catch (e) {
      failures.push(at(`reference yjs could not merge the trace updates (${e.message})`)); failed++; continue
    }
    const compareUpdates = (label, expectedU, actualU) => {
      const ye = observe(fromUpdates(gc, roots, [expectedU]), roots)
      const ja = observe(fromUpdates(gc, roots, [actualU]), roots)
      if (ja.content !== ye.content) errs.push(at(`${label} content differs: ` + describeDiff(ye.content, ja.content)))
      if (ja.sv !== ye.sv) errs.push(at(`${label}: state vector of a doc built from it differs: expected ${ye.sv} got ${ja.sv}`))
      if (!pendingEqual(ja.pending, ye.pending)) errs.push(at(`${label}: pending of a doc built from it differs: expected ${JSON.stringify(ye.pending)} got ${JSON.stringify(ja.pending)}`))
    }
    // merged
    if (jm.merged == null) errs.push(at('merged missing'))
    else {
      try {
        const jMerged = unb64(jm.merged)
        errs.push(...countBytes('merged', yMerged, jMerged, opts.strictMergeBytes, at('merged')))
        compareUpdates('merged', yMerged, jMerged)
      } catch (e) { errs.push(at(`merged could not be applied: ${e.message}`)) }
    }
    // diff
    if (jm.diff == null) errs.push(at('diff missing'))
    else {
      try {
        const yDiff = Y.diffUpdate(yMerged, unb64(m.probeSv))
        if (!bytesEqual(yDiff, unb64(m.diff))) errs.push(at('trace.diff does not match Y.diffUpdate (trace made with a different yjs?)'))
        const jDiff = unb64(jm.diff)
        errs.push(...countBytes('mergeDiff', yDiff, jDiff, opts.strictMergeBytes, at('diff')))
        const e1 = svToString(Y.decodeStateVector(Y.encodeStateVectorFromUpdate(yDiff)))
        const e2 = svToString(Y.decodeStateVector(Y.encodeStateVectorFromUpdate(jDiff)))
        if (e1 !== e2) errs.push(at(`diff: encodeStateVectorFromUpdate differs: expected ${e1} got ${e2}`))
        compareUpdates('diff', yDiff, jDiff)
      } catch (e) { errs.push(at(`diff could not be read/applied: ${e.message}`)) }
    }
    // svFromUpdate
    if (jm.svFromUpdate == null) errs.push(at('svFromUpdate missing'))
    else {
      try {
        const ySv = Y.encodeStateVectorFromUpdate(yMerged)
        const jSv = unb64(jm.svFromUpdate)
        errs.push(...countBytes('svFromUpdate', ySv, jSv, opts.strictMergeBytes, at('svFromUpdate')))
        const e1 = svToString(Y.decodeStateVector(ySv))
        const e2 = svToString(Y.decodeStateVector(jSv))
        if (e1 !== e2) errs.push(at(`svFromUpdate differs: expected ${e1} got ${e2}`))
      } catch (e) { errs.push(at(`svFromUpdate could not be decoded: ${e.message}`)) }
    }
    if (errs.length === 0) passed++
    else { failed++; failures.push(...errs) }
  }
  if (failures.length > 0 && failed === 0) failed = 1 // structural problems (length mismatch)
  return { passed, failed, failures, bytes }
}

export const formatBytes = (b) => {
  const f = ([a, n]) => `${a}/${n}`
  return `bytes identical: sv ${f(b.sv)}, state ${f(b.state)}, diff ${f(b.diff)}; merges: merged ${f(b.merged)}, diff ${f(b.mergeDiff)}, svFromUpdate ${f(b.svFromUpdate)}`
}

const main = () => {
  const argv = process.argv.slice(2)
  let strictBytes = false
  let strictMergeBytes = false
  let maxFailures = 20
  const positional = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--strict-bytes') strictBytes = true
    else if (argv[i] === '--strict-merge-bytes') strictMergeBytes = true
    else if (argv[i] === '--max-failures') maxFailures = parseInt(argv[++i], 10)
    else positional.push(argv[i])
  }
  if (positional.length !== 2) {
    console.error('usage: node check.mjs <trace.json> <java-out.json> [--strict-bytes] [--strict-merge-bytes] [--max-failures N]')
    process.exit(2)
  }
  const trace = JSON.parse(readFileSync(positional[0], 'utf8'))
  const java = JSON.parse(readFileSync(positional[1], 'utf8'))
  const res = runCheck(trace, java, { strictBytes, strictMergeBytes })
  for (const f of res.failures.slice(0, maxFailures)) console.log('FAIL ' + f)
  if (res.failures.length > maxFailures) console.log(`… ${res.failures.length - maxFailures} more failure messages`)
  console.log(formatBytes(res.bytes))
  console.log(`conformance: ${res.passed} passed, ${res.failed} failed`)
  process.exit(res.failed === 0 ? 0 : 1)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main()
