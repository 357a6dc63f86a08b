// Pressure scenarios against a running Ripple server on 127.0.0.1: nothing an accepted client sent is
// lost under load, offenders are closed with a code (never the process, never their neighbours).
// Usage: node pressure.mjs <scenario> <port>[,<port>...] [args...]; prints one JSON line and exits 0 when the
// scenario's expectations hold, 1 (with the reason) when they do not. Every wait and loop is bounded.
//
//   burst [rooms=4] [perRoom=12] [inserts=400] [rawMessages=20000]
//   awareness-flood [--hold] [offenders=8] [ids=3000000]
//   awareness-coalesce [updates=2000]
//   slowloris [sockets=2000] [idleCloseSeconds=0]
//   fuzz [target=1000000] [maxSeconds=240] [connections=32] [seed]
//   room-full <limit>
//   flood-writer <room> [updates=4000] [chars=4096]
//   garbage-after-updates [clients=8] [updates=200]
//   passivation-race [count=120] [debounceMs=300]      # server with ripple.alarms.debounce=<debounceMs>
import * as Y from 'yjs'
import WebSocket from 'ws'
import net from 'node:net'
import readline from 'node:readline'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { sleep, until, partyKit, websocket, synced, reporter } from '../lib/clients.mjs'
import { MSG_AWARENESS, MSG_QUERY_AWARENESS, awarenessEntries, awarenessFloodMessage, awarenessStateMessage, syncUpdateMessage } from '../lib/wire.mjs'
import { prng, recordCorpus, Generator } from './fuzz.mjs'

// ------------------------------------------------------------------ small tools

const pad = (n, w) => String(n).padStart(w, '0')

/** Opens a raw ws; resolves with it once open, rejects on error or after ms. */
const openRaw = (url, ms = 15000) => new Promise((resolve, reject) => {
  const ws = new WebSocket(url)
  ws.binaryType = 'nodebuffer'
  const t = setTimeout(() => { ws.terminate(); reject(new Error('open timed out: ' + url)) }, ms)
  ws.once('open', () => { clearTimeout(t); resolve(ws) })
  ws.once('error', (e) => { clearTimeout(t); reject(e) })
})

/** A promise of the socket's close {code, reason}; also recorded on ws.closeInfo when it happens. */
const closeOf = (ws) => new Promise((resolve) => ws.once('close', (code, reason) => {
  ws.closeInfo = { code, reason: reason.toString() }
  resolve(ws.closeInfo)
}))

/** Counts 'disconnected' status events of a provider (a close the server caused, or a 30 s timeout). */
const countDisconnects = (p) => {
  const c = { n: 0 }
  p.on('status', (e) => { if (e.status === 'disconnected') c.n++ })
  return c
}

/**
 * Waits until cond() or ms pass, but gives up early once progress() (a number) has not changed for
 * stallMs: a lost message never arrives, and waiting the full bound for it proves nothing more.
 */
const untilOrStalled = async (cond, progressOf, ms, stallMs = 30000) => {
  const end = Date.now() + ms
  let last = progressOf()
  let lastChange = Date.now()
  while (Date.now() < end) {
    if (cond()) return true
    await sleep(100)
    const now = progressOf()
    if (now !== last) { last = now; lastChange = Date.now() } else if (Date.now() - lastChange > stallMs) break
  }
  return cond()
}

/** Tokens of a text: each edit is one fixed-format token; returns {count, unique, rest}. */
const tokenStats = (text, re) => {
  const tokens = text.match(re) || []
  return { count: tokens.length, unique: new Set(tokens).size, leftover: text.length - tokens.join('').length }
}

/** Progress on stderr (the one result line is on stdout). */
const progress = (...args) => console.error(`[${((Date.now() - started) / 1000).toFixed(1)} s]`, ...args)

process.setMaxListeners(0) // every provider adds an 'exit' listener

const [, , scenario, portArg, ...rest] = process.argv
// one port, or several ("p1,p2,p3": the nodes of a cluster): providers are spread over them in turn
const ports = String(portArg).split(',').map(Number)
const port = ports[0]
const host = `127.0.0.1:${port}`
let turn = 0
const nextHost = () => `127.0.0.1:${ports[turn++ % ports.length]}`
const pk = (room, doc, opts) => partyKit(nextHost(), room, doc, opts)
const yws = (room, doc, opts) => websocket(nextHost(), room, doc, opts)
const done = isMainThread ? reporter(scenario) : null
const started = Date.now()
const elapsed = () => Date.now() - started

// ------------------------------------------------------------------ scenarios

const scenarios = {}

/**
 * 4 rooms x 12 providers (every fourth a WebsocketProvider) insert 400 times each in a tight loop,
 * one transaction (one update message) per insert, all at once; meanwhile a raw client sends
 * 20,000 sync updates the moment its socket opens, before reading anything. Every room converges,
 * a fresh client of each room reads every edit exactly once, and nobody was disconnected.
 */
scenarios.burst = async () => {
  const rooms = Number(rest[0] || 4)
  const perRoom = Number(rest[1] || 12)
  const inserts = Number(rest[2] || 400)
  const rawMessages = Number(rest[3] || 20000)
  const token = (r, c, k) => `r${r}c${pad(c, 2)}k${pad(k, 4)};`
  const tokenRe = /r\d+c\d\dk\d{4};/g
  const groups = []
  for (let r = 0; r < rooms; r++) {
    const room = `doc-burst-${r}`
    const docs = []
    const providers = []
    for (let c = 0; c < perRoom; c++) {
      const d = new Y.Doc()
      docs.push(d)
      providers.push(c % 4 === 3 ? yws(room, d) : pk(room, d))
    }
    groups.push({ r, room, docs, providers, disconnects: providers.map(countDisconnects) })
  }
  const all = groups.flatMap((g) => g.providers)
  if (!(await until(() => all.every((p) => p.synced), 60000))) {
    return done(false, { reason: 'providers never synced', synced: all.filter((p) => p.synced).length, of: all.length })
  }

  // the raw client's 20,000 updates, prepared beforehand: real yjs updates, one insert each
  const rawRoom = 'doc-burst-raw'
  const rawToken = (k) => `w${pad(k, 6)};`
  const source = new Y.Doc()
  const rawFrames = []
  source.on('update', (u) => rawFrames.push(syncUpdateMessage(u)))
  for (let k = 0; k < rawMessages; k++) source.getText('text').insert(source.getText('text').length, rawToken(k))
  const raw = new WebSocket(`ws://${host}/${rawRoom}`)
  raw.binaryType = 'nodebuffer'
  let rawReceived = 0
  raw.on('message', () => { rawReceived++ })
  const rawClosed = closeOf(raw)
  let rawError = null
  raw.on('error', (e) => { rawError = String(e) })
  const opened = await new Promise((resolve) => {
    raw.once('open', () => resolve(true))
    raw.once('error', () => resolve(false))
  })
  if (!opened) return done(false, { reason: 'raw client could not connect', rawError })
  progress('all synced; burst starts')

  // all at once: the raw flood, then every provider's 400 inserts, in one turn of the event loop
  const burstStart = Date.now()
  for (const f of rawFrames) raw.send(f)
  for (const g of groups) {
    g.docs.forEach((d, c) => {
      const t = d.getText('text')
      for (let k = 0; k < inserts; k++) t.insert(t.length, token(g.r, c, k))
    })
  }
  const expectedLen = perRoom * inserts * token(0, 0, 0).length
  const converged = (g) => g.docs.every((d) => d.getText('text').length === expectedLen) &&
    g.docs.every((d) => d.getText('text').toString() === g.docs[0].getText('text').toString())
  const totalLength = () => groups.reduce((a, g) => a + g.docs.reduce((b, d) => b + d.getText('text').length, 0), 0)
  const allConverged = await untilOrStalled(() => groups.every(converged), totalLength, 120000)
  const convergeMs = Date.now() - burstStart

  progress('converged', allConverged, convergeMs)

  // fresh clients read every edit (one shared wait, given up once nothing more arrives: a lost edit never does)
  const fresh = groups.map((g) => { const d = new Y.Doc(); return { d, p: pk(g.room, d) } })
  const rd = new Y.Doc()
  const rp = yws(rawRoom, rd)
  const rawExpectedLen = rawMessages * rawToken(0).length
  await untilOrStalled(() => fresh.every((f) => f.d.getText('text').length >= expectedLen) && rd.getText('text').length >= rawExpectedLen,
    () => fresh.reduce((a, f) => a + f.d.getText('text').length, rd.getText('text').length), 90000, 20000)
  const results = []
  for (const g of groups) {
    const { d, p } = fresh[g.r]
    const s = tokenStats(d.getText('text').toString(), tokenRe)
    p.destroy()
    results.push({
      room: g.room,
      converged: converged(g),
      lengths: [...new Set(g.docs.map((x) => x.getText('text').length))],
      fresh: s,
      expected: perRoom * inserts,
      disconnects: g.disconnects.reduce((a, c) => a + c.n, 0)
    })
  }
  const rawFresh = tokenStats(rd.getText('text').toString(), /w\d{6};/g)
  rp.destroy()
  const rawClose = raw.closeInfo || null
  const rawResult = { sent: rawFrames.length, received: rawReceived, close: rawClose, error: rawError, fresh: rawFresh, expected: rawMessages }
  raw.close(1000)
  await Promise.race([rawClosed, sleep(5000)])
  all.forEach((p) => p.destroy())

  const roomsOk = results.every((x) => x.converged && x.fresh.count === x.expected && x.fresh.unique === x.expected &&
    x.fresh.leftover === 0 && x.disconnects === 0)
  const rawOk = rawClose === null && rawError === null && rawFresh.count === rawMessages && rawFresh.unique === rawMessages && rawFresh.leftover === 0
  const ok = allConverged && roomsOk && rawOk
  done(ok, {
    reason: ok ? undefined : !allConverged ? 'rooms did not converge within 120 s' : !rawOk ? 'raw client lost edits or was closed' : 'a room lost edits or a provider was disconnected',
    convergeMs,
    rooms: results,
    raw: rawResult,
    elapsedMs: elapsed()
  })
}

/**
 * A raw client sends `updates` awareness updates of its own id back to back; a second connection
 * in the room receives them coalesced (far fewer frames, the newest state last), and the sender
 * gets its own newest state back.
 */
scenarios['awareness-coalesce'] = async () => {
  const updates = Number(rest[0] || 2000)
  const room = 'doc-awareness-coalesce'
  const url = `ws://${host}/${room}`
  const me = 424242
  const watch = (ws) => {
    const seen = { frames: 0, last: 0 }
    ws.on('message', (data) => {
      const entries = awarenessEntries(data)
      const mine = entries && entries.filter((e) => e.id === me)
      if (mine && mine.length) { seen.frames++; seen.last = Math.max(seen.last, ...mine.map((e) => e.clock)) }
    })
    return seen
  }
  const sender = await openRaw(url)
  const observer = await openRaw(url)
  const atSender = watch(sender)
  const atObserver = watch(observer)
  await sleep(300) // both joined
  for (let k = 1; k <= updates; k++) sender.send(awarenessStateMessage(me, k, JSON.stringify({ user: { name: 'typist' }, cursor: k })))
  const arrived = await until(() => atObserver.last === updates && atSender.last === updates, 20000)
  await sleep(300) // anything still coalescing arrives now
  const closes = [sender.closeInfo, observer.closeInfo]
  sender.close(1000); observer.close(1000)
  // relayed every 30 ms, 2,000 updates sent in well under a second arrive in a few dozen frames
  const ok = arrived && atObserver.frames <= updates / 10 && atSender.frames >= 1
  done(ok, {
    reason: ok ? undefined : !arrived ? 'the newest state did not arrive' : 'awareness was relayed once per update, not coalesced',
    updates,
    observer: atObserver,
    sender: atSender,
    closes,
    elapsedMs: elapsed()
  })
}

/**
 * 2,000 plain TCP sockets that never send a byte; then a real WebsocketProvider connects and syncs
 * and a second one sees its edit. With idleCloseSeconds > 0, also waits (at most 3x that + 10 s)
 * until the server has closed every idle socket.
 */
scenarios.slowloris = async () => {
  const count = Number(rest[0] || 2000)
  const idleCloseSeconds = Number(rest[1] || 0)
  const sockets = []
  const st = { connected: 0, errors: 0, closedByServer: 0, errorCodes: {} }
  const openStart = Date.now()
  // in batches of 100, each given up to 2 s: the kernel's accept queue takes them as fast as the
  // server accepts, so what stops a later client is the server, not a burst of SYNs
  for (let i = 0; i < count; i++) {
    const s = net.connect({ host: '127.0.0.1', port })
    s.ours = false
    s.on('connect', () => { st.connected++ })
    s.on('error', (e) => { st.errors++; st.errorCodes[e.code] = (st.errorCodes[e.code] || 0) + 1 })
    s.on('data', () => {}) // a server may answer (e.g. 408); read it
    s.on('close', () => { if (!s.ours) st.closedByServer++ })
    sockets.push(s)
    if (sockets.length % 100 === 0 || i === count - 1) await until(() => st.connected + st.errors >= sockets.length, 2000)
  }
  await until(() => st.connected + st.errors >= count, 10000)
  await sleep(3000) // handshakes whose last ACK met a full accept queue complete on the SYN-ACK retransmission (1 s, 3 s)
  const settledMs = Date.now() - openStart
  progress('idle sockets', st)

  const a = new Y.Doc(); const b = new Y.Doc()
  const room = 'doc-slowloris'
  const t0 = Date.now()
  const pa = yws(room, a)
  const aSynced = await synced(pa, 30000)
  const syncMs = Date.now() - t0
  const pb = yws(room, b)
  const bSynced = aSynced && (await synced(pb, 30000))
  a.getText('text').insert(0, 'through the crowd')
  const seen = bSynced && (await until(() => b.getText('text').toString() === 'through the crowd', 15000))
  pa.destroy(); pb.destroy()
  const beforeIdle = { ...st }

  let idleClosed = null
  if (idleCloseSeconds > 0) {
    const t = Date.now()
    idleClosed = await until(() => st.closedByServer >= st.connected, (idleCloseSeconds * 3 + 10) * 1000)
    idleClosed = { all: idleClosed, afterMs: Date.now() - t, closedByServer: st.closedByServer, of: st.connected }
  }
  for (const s of sockets) { s.ours = true; s.destroy() }
  const ok = aSynced && seen && st.connected === count && (idleCloseSeconds === 0 || idleClosed.all)
  done(ok, {
    reason: ok ? undefined : !aSynced ? 'a real client could not connect and sync past the idle sockets'
      : !seen ? 'the second client did not see the edit' : st.connected !== count ? 'not every idle socket connected' : 'idle sockets were not closed',
    sockets: count,
    settledMs,
    idle: beforeIdle,
    synced: aSynced,
    syncMs,
    seen,
    idleClosed,
    elapsedMs: elapsed()
  })
}

/**
 * max-connections-per-room = limit: `limit` connections to a room open; the next upgrade to it is
 * HTTP 503 {"error":"room_full"}; one to another room opens; once one of the first leaves, the
 * room takes a connection again.
 */
scenarios['room-full'] = async () => {
  const limit = Number(rest[0] || 5)
  const room = 'doc-room-full'
  const other = 'doc-room-other'
  const attempt = (r) => new Promise((resolve) => {
    const ws = new WebSocket(`ws://${host}/parties/main/${r}`)
    const t = setTimeout(() => { ws.terminate(); resolve({ outcome: 'timeout' }) }, 15000)
    // open, and joined: the room's first message (its sync step 1) says it counts this connection
    ws.once('message', () => { clearTimeout(t); resolve({ outcome: 'open', ws }) })
    ws.on('close', (code) => { clearTimeout(t); resolve({ outcome: 'closed', code }) })
    ws.on('unexpected-response', (req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => { clearTimeout(t); req.destroy(); resolve({ outcome: 'refused', status: res.statusCode, contentType: res.headers['content-type'], body }) })
    })
    ws.on('error', (e) => { clearTimeout(t); resolve({ outcome: 'error', error: String(e) }) })
  })
  const first = []
  for (let i = 0; i < limit; i++) first.push(await attempt(room))
  const firstOk = first.every((a) => a.outcome === 'open')
  const past = await attempt(room)
  let json = null
  try { json = past.body ? JSON.parse(past.body) : null } catch (e) { json = { unparsable: past.body } }
  const elsewhere = await attempt(other)
  // one leaves: the room takes a connection again (the count is updated as the close is handled)
  if (first[0].ws) first[0].ws.close(1000)
  let again = { outcome: 'not tried' }
  const end = Date.now() + 10000
  while (Date.now() < end) {
    again = await attempt(room)
    if (again.outcome === 'open') break
    await sleep(200)
  }
  for (const a of [...first, past, elsewhere, again]) if (a.ws) a.ws.terminate()
  const refusedOk = past.outcome === 'refused' && past.status === 503 && json && json.error === 'room_full' &&
    String(past.contentType).startsWith('application/json')
  const ok = firstOk && refusedOk && elsewhere.outcome === 'open' && again.outcome === 'open'
  const strip = (a) => ({ ...a, ws: undefined })
  done(ok, {
    reason: ok ? undefined : !firstOk ? 'the first connections did not all open' : !refusedOk ? `connection ${limit + 1} was not refused with 503 room_full`
      : elsewhere.outcome !== 'open' ? 'another room refused a connection' : 'the room stayed full after a connection left',
    limit,
    first: first.map((a) => a.outcome),
    past: strip(past),
    json,
    elsewhere: strip(elsewhere),
    again: strip(again),
    elapsedMs: elapsed()
  })
}

/**
 * For the slow-reader test (the test holds a connection that never reads): a WebsocketProvider
 * writes `updates` map entries of `chars` characters, one update each, and an observer provider
 * receives all of them; neither is disconnected.
 */
scenarios['flood-writer'] = async () => {
  const room = rest[0] || 'doc-slow-reader'
  const updates = Number(rest[1] || 4000)
  const chars = Number(rest[2] || 4096)
  const w = new Y.Doc(); const o = new Y.Doc()
  const pw = yws(room, w); const po = yws(room, o)
  const dw = countDisconnects(pw); const dobs = countDisconnects(po)
  if (!(await synced(pw, 20000)) || !(await synced(po, 20000))) return done(false, { reason: 'never synced' })
  // one map entry per update: appending to one text would make yjs split an ever longer string on
  // every arrival (quadratic in the client, not the server's time)
  const flood = w.getMap('flood')
  const chunk = 'x'.repeat(chars)
  const t0 = Date.now()
  for (let k = 0; k < updates; k++) {
    flood.set(`u${k}`, chunk)
    // the observer lives in this process: let it read, as a client on its own machine would
    if (k % 10 === 9) await new Promise((resolve) => setImmediate(resolve))
  }
  const writeMs = Date.now() - t0
  const seen = o.getMap('flood')
  const all = await untilOrStalled(() => seen.size === updates, () => seen.size, 120000)
  const receiveMs = Date.now() - t0
  const received = seen.size
  const disconnects = dw.n + dobs.n
  pw.destroy(); po.destroy()
  const ok = all && disconnects === 0
  done(ok, { reason: ok ? undefined : !all ? 'the observer did not receive every update' : 'a provider was disconnected', updates, bytes: updates * chars, received, writeMs, receiveMs, disconnects, elapsedMs: elapsed() })
}

/**
 * At least `target` generated messages (fuzz.mjs: recorded y-protocols traffic, its mutations,
 * y-pk-batch sequences true and lying, random text frames) over `connections` concurrent
 * connections to 8 rooms, each reconnecting when closed, while three real providers edit a control
 * room. A message counts as delivered once the server has answered a probe sent after it on the
 * same connection (a query-awareness whose answer holds the connection's own awareness id).
 * Expectations: every close the server made has a code in 1000..1015 (not 1005/1006), every
 * handshake succeeded, every probe was answered, /alive answers, a new room works, and the control
 * room has every edit exactly once.
 */
scenarios.fuzz = async () => {
  const target = Number(rest[0] || 1000000)
  const maxSeconds = Number(rest[1] || 240)
  const connections = Number(rest[2] || 32)
  const seed = Number(rest[3] || (Date.now() % 2147483647))
  const windowSize = 24
  const depth = 2 // windows in flight per connection
  // the share of windows that are one breaking mutation (0.2: about 1 message in 100); most
  // close the connection, which costs a reconnect
  const nasty = Number(process.env.FUZZ_NASTY || 0.2)
  const rooms = 24
  const corpus = recordCorpus(prng(seed ^ 0x5eed))
  const corpusIds = [...corpus.awareness.keys()]
  const st = {
    delivered: 0, sent: 0, lifetimes: 0, serverCloses: {}, reasons: {}, kinds: {}, handshakeErrors: {}, clientErrors: {},
    probeTimeouts: 0, echoTimeouts: 0, ourCloses: 0, ourCloseCodes: {}, received: 0, probes: 0
  }
  const samples = { badCloses: [], probeTimeouts: [], handshakeErrors: [] }
  const bump = (o, k) => { o[k] = (o[k] || 0) + 1 }
  progress(`fuzz seed ${seed}; corpus: ${corpus.updates.length} updates, ${corpus.step1.length} step 1, ${corpus.step2.length} step 2, ${corpusIds.length} awareness clients`)

  // the control room: three real providers typing all along
  const controlRoom = 'doc-fuzz-control'
  const controlDocs = [new Y.Doc(), new Y.Doc(), new Y.Doc()]
  const controls = [pk(controlRoom, controlDocs[0]), pk(controlRoom, controlDocs[1]), yws(controlRoom, controlDocs[2])]
  const controlDisconnects = controls.map(countDisconnects)
  if (!(await until(() => controls.every((p) => p.synced), 20000))) return done(false, { reason: 'control providers never synced' })
  const typed = [0, 0, 0]
  const typing = setInterval(() => {
    controlDocs.forEach((d, i) => { const t = d.getText('text'); t.insert(t.length, `c${i}n${pad(typed[i]++, 6)};`) })
  }, 25)

  let stop = false
  const deadline = Date.now() + maxSeconds * 1000
  const report = setInterval(() => progress('fuzz', JSON.stringify({ delivered: st.delivered, sent: st.sent, lifetimes: st.lifetimes, serverCloses: st.serverCloses, typed })), 10000)

  const fuzzer = async (idx) => {
    const rng = prng(seed + 7919 * (idx + 1))
    let lifetime = 0
    while (!stop) {
      lifetime++
      const room = `doc-fuzz-${rng.int(rooms)}`
      const route = rng.pick([`/${room}`, `/parties/main/${room}`, `/party/${room}`])
      const me = 1000000000 + idx * 1000000 + lifetime // this connection's own awareness id
      const ws = new WebSocket(`ws://${host}${route}`)
      ws.binaryType = 'nodebuffer'
      let answers = 0
      let wake = null
      let closed = null
      ws.on('message', (data) => {
        st.received++
        if (data[0] !== MSG_AWARENESS) return
        const entries = awarenessEntries(data)
        if (entries && entries.some((e) => e.id === me)) { answers++; if (wake) wake() }
      })
      ws.on('error', (e) => bump(st.clientErrors, String(e.message || e).slice(0, 80)))
      ws.on('close', (code, reason) => { closed = { code, reason: reason.toString() }; if (wake) wake() })
      const waitFor = (cond, ms) => new Promise((resolve) => {
        if (cond()) return resolve(true)
        const t = setTimeout(() => { wake = null; resolve(cond()) }, ms)
        wake = () => { if (cond()) { clearTimeout(t); wake = null; resolve(true) } }
      })
      const opened = await new Promise((resolve) => {
        const t = setTimeout(() => resolve('timeout'), 10000)
        ws.once('open', () => { clearTimeout(t); resolve('open') })
        ws.once('unexpected-response', (req, res) => { clearTimeout(t); req.destroy(); resolve(`http ${res.statusCode}`) })
        ws.once('error', (e) => { clearTimeout(t); resolve(String(e.code || e.message)) })
      })
      if (opened !== 'open') {
        bump(st.handshakeErrors, opened)
        if (samples.handshakeErrors.length < 5) samples.handshakeErrors.push({ route, opened })
        ws.terminate()
        await sleep(100)
        continue
      }
      st.lifetimes++
      const gen = new Generator(corpus, rng, [rng.pick(corpusIds), rng.pick(corpusIds)])
      // the connection's own presence: its echo says the room has the connection
      ws.send(awarenessStateMessage(me, 1, JSON.stringify({ user: { name: `fuzzer ${idx}` } })))
      let probes = 1
      if (!(await waitFor(() => answers >= probes || closed, 10000)) || (closed && answers < probes)) {
        if (!closed) { st.echoTimeouts++; ws.terminate() }
      }
      const recent = []
      const cap = rng.range(100, 3000)
      let sentHere = 0
      // windows whose probe is not answered yet, oldest first: up to `depth` in flight, so the
      // connection keeps sending while the server works through the previous window
      const unconfirmed = []
      let confirmed = probes // answers counted so far (the first was the echo)
      const credit = () => {
        while (answers > confirmed && unconfirmed.length) { confirmed++; const n = unconfirmed.shift(); st.delivered += n; sentHere += n }
      }
      while (!closed && !stop && sentHere + unconfirmed.reduce((a, b) => a + b, 0) < cap && answers >= 1 &&
        st.delivered < target && Date.now() < deadline) {
        let inWindow = 0
        // a breaking window holds just the breaking mutation: a close then wastes nothing
        const breaking = rng.chance(nasty)
        let sentBreaking = false
        while ((breaking ? !sentBreaking : inWindow < windowSize) && !closed && ws.readyState === WebSocket.OPEN) {
          sentBreaking = breaking
          const { kind, messages } = gen.next(breaking)
          bump(st.kinds, kind)
          recent.push(kind)
          if (recent.length > 6) recent.shift()
          for (const m of messages) {
            if (closed || ws.readyState !== WebSocket.OPEN) break
            if (m.raw) ws.send(m.data, { binary: false })
            else ws.send(m.data, { binary: !m.text })
            inWindow++
            st.sent++
          }
        }
        if (ws.readyState !== WebSocket.OPEN) { // the server's close frame is in, its 'close' event to follow
          await waitFor(() => closed, 10000)
          break
        }
        // the probe: a query-awareness (type 3, with bytes after it the reader must ignore)
        ws.send(Buffer.concat([Buffer.from([MSG_QUERY_AWARENESS]), rng.bytes(rng.int(5))]))
        probes++
        st.probes++
        unconfirmed.push(inWindow)
        // after a breaking window, nothing more until it is answered (or the connection closed)
        const answered = await waitFor(() => { credit(); return unconfirmed.length < (breaking ? 1 : depth) || closed }, 15000)
        if (closed) break
        if (!answered) {
          st.probeTimeouts++
          if (samples.probeTimeouts.length < 5) samples.probeTimeouts.push({ route, recent: [...recent] })
          break
        }
      }
      // the last windows' answers (a close loses them: they are not counted)
      if (!closed && unconfirmed.length) {
        if (!(await waitFor(() => { credit(); return unconfirmed.length === 0 || closed }, 15000)) && !closed) {
          st.probeTimeouts++
          if (samples.probeTimeouts.length < 5) samples.probeTimeouts.push({ route, recent: [...recent], last: true })
        }
      }
      if (closed) {
        bump(st.serverCloses, closed.code)
        if (closed.reason) bump(st.reasons, `${closed.code} ${closed.reason.replace(/\d+/g, 'N').slice(0, 70)}`)
        const bad = closed.code < 1000 || closed.code > 1015 || closed.code === 1005 || closed.code === 1006
        if (bad && samples.badCloses.length < 10) samples.badCloses.push({ ...closed, route, recent: [...recent] })
      } else {
        const ours = new Promise((resolve) => ws.once('close', (code) => resolve(code)))
        ws.close(1000)
        const code = await Promise.race([ours, sleep(5000).then(() => 'none')])
        if (code === 'none') ws.terminate()
        st.ourCloses++
        bump(st.ourCloseCodes, code)
      }
      if (st.delivered >= target || Date.now() > deadline) stop = true
    }
  }
  const fuzzStart = Date.now()
  await Promise.all(Array.from({ length: connections }, (_, i) => fuzzer(i)))
  const fuzzMs = Date.now() - fuzzStart
  clearInterval(report)
  clearInterval(typing)
  progress('fuzz done', JSON.stringify(st))

  // the process is up, and new connections work
  const alive = await fetch(`http://${host}/alive`, { signal: AbortSignal.timeout(10000) }).then((r) => r.status, (e) => String(e))
  const fa = new Y.Doc(); const fb = new Y.Doc()
  const pfa = pk('doc-fuzz-after', fa); const pfb = yws('doc-fuzz-after', fb)
  const afterSynced = (await synced(pfa, 20000)) && (await synced(pfb, 20000))
  fa.getText('text').insert(0, 'after the fuzz')
  const afterOk = afterSynced && (await until(() => fb.getText('text').toString() === 'after the fuzz', 15000))
  pfa.destroy(); pfb.destroy()

  // the control room has every edit, exactly once
  const expectedTokens = typed.reduce((a, b) => a + b, 0)
  const tokenLen = `c0n${pad(0, 6)};`.length
  const controlLength = () => controlDocs.reduce((a, d) => a + d.getText('text').length, 0)
  const controlConverged = await untilOrStalled(() => controlDocs.every((d) => d.getText('text').length === expectedTokens * tokenLen), controlLength, 60000, 20000)
  const fresh = new Y.Doc()
  const pf = pk(controlRoom, fresh)
  await untilOrStalled(() => fresh.getText('text').length === expectedTokens * tokenLen, () => fresh.getText('text').length, 30000, 15000)
  const freshStats = tokenStats(fresh.getText('text').toString(), /c\dn\d{6};/g)
  const control = { typed, expected: expectedTokens, converged: controlConverged, fresh: freshStats, disconnects: controlDisconnects.map((c) => c.n) }
  pf.destroy()
  controls.forEach((p) => p.destroy()) // (destroying emits a 'disconnected' of its own: counted before)
  const controlOk = controlConverged && freshStats.count === expectedTokens && freshStats.unique === expectedTokens && freshStats.leftover === 0 &&
    control.disconnects.every((n) => n === 0)

  const badCodes = Object.keys(st.serverCloses).map(Number).filter((c) => c < 1000 || c > 1015 || c === 1005 || c === 1006)
  const handshakeErrors = Object.values(st.handshakeErrors).reduce((a, b) => a + b, 0)
  const checks = {
    delivered: st.delivered >= target,
    closeCodes: badCodes.length === 0,
    handshakes: handshakeErrors === 0,
    probes: st.probeTimeouts === 0 && st.echoTimeouts === 0,
    alive: alive === 200,
    newConnections: afterOk,
    control: controlOk
  }
  const ok = Object.values(checks).every(Boolean)
  done(ok, {
    reason: ok ? undefined : 'failed: ' + Object.entries(checks).filter(([, v]) => !v).map(([k]) => k).join(', '),
    checks,
    seed,
    target,
    nasty,
    fuzzMs,
    messagesPerSecond: Math.round(st.delivered / (fuzzMs / 1000)),
    ...st,
    samples,
    alive,
    control,
    elapsedMs: elapsed()
  })
}

/**
 * `clients` raw connections each send `updates` real updates and then, at once, a malformed
 * message: each is closed with a code in 1000..1015, and a fresh client reads every update sent
 * before the garbage (they were accepted: the close must not lose them).
 */
scenarios['garbage-after-updates'] = async () => {
  const clients = Number(rest[0] || 8)
  const updates = Number(rest[1] || 200)
  const room = 'doc-garbage-after-updates'
  const token = (c, k) => `g${pad(c, 2)}u${pad(k, 4)};`
  const results = await Promise.all(Array.from({ length: clients }, async (_, c) => {
    const source = new Y.Doc()
    const frames = []
    source.on('update', (u) => frames.push(syncUpdateMessage(u)))
    const t = source.getText('text')
    for (let k = 0; k < updates; k++) t.insert(t.length, token(c, k))
    const ws = await openRaw(`ws://${host}/parties/main/${room}`)
    ws.on('message', () => {})
    const closed = closeOf(ws)
    for (const f of frames) ws.send(f)
    ws.send(Buffer.from([0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f])) // a sync update whose length runs past the message
    const close = await Promise.race([closed, sleep(30000).then(() => null)])
    if (!close) ws.terminate()
    return { client: c, close }
  }))
  const d = new Y.Doc()
  const p = yws(room, d)
  const expected = clients * updates
  const len = expected * token(0, 0).length
  await synced(p, 20000)
  await untilOrStalled(() => d.getText('text').length >= len, () => d.getText('text').length, 60000, 10000)
  const fresh = tokenStats(d.getText('text').toString(), /g\d\du\d{4};/g)
  p.destroy()
  const closesOk = results.every((r) => r.close && r.close.code >= 1000 && r.close.code <= 1015 && r.close.code !== 1005 && r.close.code !== 1006)
  const ok = closesOk && fresh.count === expected && fresh.unique === expected
  done(ok, {
    reason: ok ? undefined : !closesOk ? 'a connection was not closed with a proper code' : 'updates sent before the garbage were lost',
    expected,
    fresh,
    closes: results.map((r) => r.close && r.close.code),
    elapsedMs: elapsed()
  })
}

/**
 * Rooms stop (passivate) once empty for the debounce and saved; connections keep arriving around
 * that moment. `count` short connections, one after another with pauses mostly just past `debounceMs`,
 * each send one update and close at once: a fresh client reads all of them, and no connection
 * was closed by the server (a message sent to a stopping room must reach the next one).
 */
scenarios['passivation-race'] = async () => {
  const count = Number(rest[0] || 120)
  const debounceMs = Number(rest[1] || 300)
  const room = 'doc-passivation-race'
  const token = (k) => `p${pad(k, 4)};`
  // each update from its own doc (its own client id): independent, so one loss costs one token,
  // not every later one (which would wait, pending, for the lost one)
  const frames = Array.from({ length: count }, (_, k) => {
    const d = new Y.Doc()
    d.getText('text').insert(0, token(k))
    return syncUpdateMessage(Y.encodeStateAsUpdate(d))
  })
  const closes = {}
  let serverClosed = 0
  const rng = prng(7)
  for (let k = 0; k < count; k++) {
    let ws
    try {
      ws = await openRaw(`ws://${host}/${room}`)
    } catch (e) {
      closes[String(e.code || e.message).slice(0, 40)] = (closes[String(e.code || e.message).slice(0, 40)] || 0) + 1
      continue
    }
    ws.on('message', () => {})
    const closed = closeOf(ws)
    ws.send(frames[k])
    // usually close at once, sometimes after a moment: either way the update was sent before the close
    if (rng.chance(0.5)) await sleep(rng.int(50))
    if (ws.readyState === WebSocket.OPEN) ws.close(1000); else serverClosed++
    const c = await Promise.race([closed, sleep(10000).then(() => ({ code: 'none' }))])
    closes[c.code] = (closes[c.code] || 0) + 1
    // the room passivates about debounceMs (plus its save) after the last connection leaves: come back around then
    await sleep(rng.chance(0.8) ? debounceMs + rng.int(80) : rng.int(2 * debounceMs))
  }
  const d = new Y.Doc()
  const p = yws(room, d)
  await synced(p, 20000)
  const len = count * token(0).length
  await untilOrStalled(() => d.getText('text').length >= len, () => d.getText('text').length, 30000, 10000)
  const fresh = tokenStats(d.getText('text').toString(), /p\d{4};/g)
  p.destroy()
  const ok = fresh.count === count && fresh.unique === count && serverClosed === 0 && Object.keys(closes).every((c) => c === '1000')
  done(ok, {
    reason: ok ? undefined : fresh.count !== count ? 'updates sent just before a close were lost' : 'the server closed a connection (or one did not close)',
    count,
    fresh,
    closes,
    serverClosed,
    elapsedMs: elapsed()
  })
}

/**
 * The two real providers of awareness-flood, in a worker thread with its own heap limit: should the
 * server relay the flood, they run out of memory there and the scenario still reports why.
 */
const presenceWorker = async ({ host: h, room }) => {
  // an exception in a provider's message handler (e.g. a relayed state that is not JSON) is logged
  // and survived, as in a browser, and reported with the check
  const clientErrors = []
  process.on('uncaughtException', (e) => { if (clientErrors.length < 10) clientErrors.push(String(e)) })
  const a = new Y.Doc(); const b = new Y.Doc()
  const pa = partyKit(h, room, a); const pb = partyKit(h, room, b)
  const da = countDisconnects(pa); const db = countDisconnects(pb)
  const sees = (p, id, name) => p.awareness.getStates().get(id)?.user?.name === name
  const ready = (await synced(pa, 20000)) && (await synced(pb, 20000))
  pa.awareness.setLocalStateField('user', { name: 'alice' })
  pb.awareness.setLocalStateField('user', { name: 'bob' })
  const seen = ready && (await until(() => sees(pa, b.clientID, 'bob') && sees(pb, a.clientID, 'alice'), 20000))
  parentPort.postMessage({ type: 'ready', ok: seen, alice: a.clientID, bob: b.clientID })
  parentPort.on('message', async (m) => {
    if (m.type === 'check') {
      // after the flood: both names intact, and a new change still goes both ways
      pa.awareness.setLocalStateField('cursor', 11)
      pb.awareness.setLocalStateField('cursor', 22)
      const ok = await until(() => sees(pa, b.clientID, 'bob') && sees(pb, a.clientID, 'alice') &&
        pa.awareness.getStates().get(b.clientID)?.cursor === 22 && pb.awareness.getStates().get(a.clientID)?.cursor === 11, 30000)
      parentPort.postMessage({
        type: 'checked',
        ok,
        aliceSeenByBob: pb.awareness.getStates().get(a.clientID) || null,
        bobSeenByAlice: pa.awareness.getStates().get(b.clientID) || null,
        states: [pa.awareness.getStates().size, pb.awareness.getStates().size],
        disconnects: da.n + db.n,
        clientErrors,
        connected: pa.wsconnected && pb.wsconnected
      })
    } else if (m.type === 'stop') {
      pa.destroy(); pb.destroy()
      parentPort.postMessage({ type: 'stopped' })
      setTimeout(() => process.exit(0), 100)
    }
  })
}

/** Resolves with the worker's next message of `type`, or {type:'failed', reason} on error, exit or timeout. */
const nextFrom = (worker, type, ms) => new Promise((resolve) => {
  const t = setTimeout(() => finish({ type: 'failed', reason: `no ${type} from the presence worker within ${ms} ms` }), ms)
  const onMessage = (m) => { if (m.type === type) finish(m) }
  const onError = (e) => finish({ type: 'failed', reason: `presence worker failed (${e.code || ''}): ${e.message}` })
  const onExit = (code) => finish({ type: 'failed', reason: `presence worker exited with ${code}` })
  function finish (m) {
    clearTimeout(t)
    worker.off('message', onMessage); worker.off('error', onError); worker.off('exit', onExit)
    resolve(m)
  }
  worker.on('message', onMessage); worker.on('error', onError); worker.on('exit', onExit)
})

/** Waits for a line on stdin (the test has measured the heap), at most ms; immediately when stdin is a terminal or closed. */
const waitForGo = (ms) => new Promise((resolve) => {
  if (process.stdin.isTTY) return resolve('tty')
  const rl = readline.createInterface({ input: process.stdin })
  const t = setTimeout(() => { rl.close(); resolve('timeout') }, ms)
  rl.once('line', () => { clearTimeout(t); rl.close(); resolve('line') })
  rl.once('close', () => { clearTimeout(t); resolve('closed') })
})

/**
 * Two real providers share presence; then 8 raw connections each send ONE awareness update
 * announcing 3,000,000 client ids, one sends a 100 KB state and one a state that is not JSON:
 * each offender is closed with 1008. An impostor announcing alice's id is ignored (not closed).
 * The providers still see each other and nothing of the offenders. With --hold, the scenario
 * prints "measure-now" after the flood and waits (at most 120 s) for a line on stdin, so the test
 * measures the server's heap while the room is still open.
 */
scenarios['awareness-flood'] = async () => {
  const hold = rest.includes('--hold')
  const args = rest.filter((a) => a !== '--hold')
  const offenders = Number(args[0] || 8)
  const ids = Number(args[1] || 3000000)
  const room = 'doc-awareness-flood'
  const url = `ws://${host}/parties/main/${room}`
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { role: 'presence', host, room },
    argv: ['presence-worker', String(port)],
    resourceLimits: { maxOldGenerationSizeMb: 512 }
  })
  let workerError = null
  worker.on('error', (e) => { workerError = `${e.code || ''} ${e.message}` })
  const ready = await nextFrom(worker, 'ready', 45000)
  if (!ready.ok) { worker.terminate(); return done(false, { reason: 'the two providers never saw each other', ready }) }
  progress('providers see each other', ready)

  // an impostor announces alice's id: ignored, not closed
  const impostor = await openRaw(url)
  impostor.on('message', () => {})
  const impostorClosed = closeOf(impostor)
  impostor.send(awarenessStateMessage(ready.alice, 1000000, JSON.stringify({ user: { name: 'mallory' } })))

  const results = []
  const attack = async (name, payload) => {
    const r = { name, bytes: payload.length, close: null, error: null }
    results.push(r)
    try {
      const ws = await openRaw(url)
      ws.on('message', () => {}) // read (and drop) whatever comes
      ws.on('error', (e) => { r.error = String(e) })
      const closed = closeOf(ws)
      ws.send(payload)
      r.close = await Promise.race([closed, sleep(90000).then(() => null)])
      if (r.close === null) ws.terminate()
    } catch (e) {
      r.error = String(e)
    }
  }
  const attacks = []
  for (let i = 0; i < offenders; i++) {
    const flood = awarenessFloodMessage(1 + i * ids, ids) // distinct ids per offender
    attacks.push(attack(`ids-${i}`, flood))
  }
  progress(`${offenders} floods of ${ids} ids sent`)
  attacks.push(attack('state-100KB', awarenessStateMessage(2 ** 30 + 1, 1, JSON.stringify({ user: { name: 'x'.repeat(100 * 1024) } }))))
  attacks.push(attack('state-not-json', awarenessStateMessage(2 ** 30 + 2, 1, '{"user": {"name": "unterminated')))
  await Promise.all(attacks)
  progress('offenders done', results.map((r) => r.close && r.close.code))

  const checked = nextFrom(worker, 'checked', 45000)
  worker.postMessage({ type: 'check' })
  const check = await checked
  const impostorOpen = impostor.readyState === WebSocket.OPEN
  let held = null
  if (hold) {
    console.log('measure-now')
    held = await waitForGo(120000)
  }
  impostor.close(1000)
  await Promise.race([impostorClosed, sleep(5000)])
  const stopped = nextFrom(worker, 'stopped', 10000)
  worker.postMessage({ type: 'stop' })
  await stopped
  await worker.terminate()

  const offendersOk = results.every((r) => r.close && r.close.code === 1008)
  const presenceOk = check.type === 'checked' && check.ok && check.disconnects === 0 && check.states.every((n) => n === 2) &&
    check.clientErrors.length === 0
  const ok = offendersOk && presenceOk && impostorOpen
  done(ok, {
    reason: ok ? undefined : !offendersOk ? 'an offender was not closed with 1008' : !presenceOk ? 'the real providers lost each other or saw offenders\' states' : 'the impostor was closed instead of ignored',
    offenders: results,
    presence: check,
    impostorOpen,
    workerError,
    held,
    elapsedMs: elapsed()
  })
}

const run = isMainThread ? scenarios[scenario] : null
if (!isMainThread && workerData && workerData.role === 'presence') presenceWorker(workerData)
if (isMainThread) {
  if (!run) done(false, { reason: 'unknown scenario ' + scenario })
  // the fuzz runs for up to its maxSeconds, then checks the control room (at most about 2 minutes)
  const limit = Number(process.env.PRESSURE_TIMEOUT_SECONDS || (scenario === 'fuzz' ? Number(rest[1] || 240) + 150 : 330))
  const timer = setTimeout(() => done(false, { reason: `scenario timed out after ${limit} s` }), limit * 1000)
  timer.unref()
  run().catch((e) => done(false, { reason: String((e && e.stack) || e) }))
}
