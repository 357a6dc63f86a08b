#!/usr/bin/env node
// Profile "open": how long a user waits when a document is opened, from the socket's open to synced
// (the server's step 2 answering the client's step 1 and the client's answer to the server's step 1:
// y-websocket's 'sync' event), with a real WebsocketProvider and Y.Doc per open.
//
//   node open.mjs --url-base ws://127.0.0.1:PORT --rooms 50 --concurrency 1 [--doc-kb 0] [--idle 15]
//
// --doc-kb 0: every room is new (nothing in the server, nothing in its backup). --doc-kb N: each room
// is first given a text of N KB by a writer, which then leaves; after --idle seconds (Ripple saves 7 s
// after the last client left and then passivates the room) the room is opened again and the time
// measured is that of a document that exists but is not in memory; the text read back is checked.
// --warm: a baseline, each room already running (one client holds it open while the others are measured).
// Rooms are opened --concurrency at a time (1: one after another; 50: a batch opening at once).
// Prints one JSON line: p50/p90/p99/max of socket-open-to-synced and of connect-to-synced (the
// socket's own set-up included), and errors. Every wait is bounded; the process exits by itself.
import WebSocket from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import { clock, Hist, parseArgs, round, sleep } from './lib.mjs'
import { newRoomPrefix, requireLoopback } from './pressure-lib.mjs'

process.setMaxListeners(0) // every WebsocketProvider adds an 'exit' listener

const o = parseArgs(process.argv.slice(2), { urlBase: '', rooms: 50, concurrency: 1, docKb: 0, idle: 15, warm: false, timeout: 60, label: '' })
requireLoopback(o.urlBase)
const prefix = newRoomPrefix('open')
const rooms = Array.from({ length: o.rooms }, (_, i) => `${prefix}-${i}`)
const errors = []

/** Opens one provider on `room`; resolves with its timings once synced (or with an error after the timeout). */
function open (room) {
  const doc = new Y.Doc()
  const started = clock()
  let openedAt = null
  const provider = new WebsocketProvider(o.urlBase, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
  provider.on('status', ({ status }) => { if (status === 'connected' && openedAt == null) openedAt = clock() })
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ doc, provider, error: `${room}: not synced after ${o.timeout} s` }), o.timeout * 1000)
    provider.on('sync', (synced) => {
      if (!synced) return
      clearTimeout(timer)
      const now = clock()
      resolve({ doc, provider, fromOpen: now - (openedAt ?? started), fromConnect: now - started })
    })
  })
}

function close ({ doc, provider }) {
  provider.destroy()
  doc.destroy()
}

/** A text of about `kb` KB, in lines, typed as one update (a paste). */
function text (kb) {
  const line = 'The quick brown fox jumps over the lazy dog, again and again. '
  return line.repeat(Math.ceil((kb * 1024) / line.length)).slice(0, kb * 1024)
}

async function seed () {
  const body = text(o.docKb)
  for (let i = 0; i < rooms.length; i += 10) {
    const batch = await Promise.all(rooms.slice(i, i + 10).map(open))
    for (const c of batch) {
      if (c.error) { errors.push(c.error); continue }
      c.doc.getText('t').insert(0, body)
    }
    // a second reader that sees the whole text proves the server has it (journaled before it is broadcast)
    const readers = await Promise.all(rooms.slice(i, i + 10).map(open))
    const deadline = clock() + o.timeout * 1000
    while (clock() < deadline && !readers.every((r) => r.error || r.doc.getText('t').length === body.length)) await sleep(20)
    for (const r of readers) if (!r.error && r.doc.getText('t').length !== body.length) errors.push('a seeded text did not reach a second reader')
    for (const c of [...batch, ...readers]) close(c)
  }
  await sleep(o.idle * 1000)
}

async function measure () {
  const fromOpen = new Hist()
  const fromConnect = new Hist()
  const expected = o.docKb * 1024
  for (let i = 0; i < rooms.length; i += o.concurrency) {
    const opened = await Promise.all(rooms.slice(i, i + o.concurrency).map(open))
    for (const c of opened) {
      if (c.error) errors.push(c.error)
      else {
        fromOpen.add(c.fromOpen)
        fromConnect.add(c.fromConnect)
        if (c.doc.getText('t').length !== expected) errors.push(`read ${c.doc.getText('t').length} characters, not ${expected}`)
      }
      close(c)
    }
    await sleep(20) // the closes go out before the next open
  }
  const pct = (h) => ({ p50: round(h.percentile(50)), p90: round(h.percentile(90)), p99: round(h.percentile(99)), max: round(h.max), n: h.n })
  return { fromOpen: pct(fromOpen), fromConnect: pct(fromConnect) }
}

const deadline = setTimeout(() => { console.error('open.mjs: overall timeout'); process.exit(3) }, (o.timeout * 3 + o.idle + o.rooms * 2) * 1000)
if (o.docKb > 0) await seed()
const holders = o.warm ? await Promise.all(rooms.map(open)) : []
for (const h of holders) if (h.error) errors.push(h.error)
const result = await measure()
for (const h of holders) close(h)
clearTimeout(deadline)
console.log(JSON.stringify({ event: 'result', profile: 'open', label: o.label, rooms: o.rooms, concurrency: o.concurrency, docKb: o.docKb, warm: o.warm, idle: o.docKb > 0 ? o.idle : 0, ...result, errors: errors.slice(0, 10), errorCount: errors.length }))
process.exit(0)
