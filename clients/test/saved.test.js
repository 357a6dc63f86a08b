// Saved acknowledgements with the real providers against a real Ripple server.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import { trackSaved, encodeSavedRequest, messageSaved } from '../index.js'
import { sharedServer } from './server.js'
import { providers, newRoom, readRoom, rawClient, until, sleep, consoleDuring } from './clients.js'

let server
before(async () => { server = await sharedServer() })
after(async () => { await server?.stop() })

/** A doc, its provider and its tracker on a new room, recording the tracker's events. */
const tracked = (kind, room = newRoom(), opts = {}) => {
  const doc = new Y.Doc()
  const provider = providers[kind](server.host, room, doc, opts)
  const saved = trackSaved(provider)
  const events = []
  saved.on('saved', () => events.push('saved'))
  saved.on('unsaved', () => events.push('unsaved'))
  const close = () => {
    saved.destroy()
    provider.destroy()
    doc.destroy()
  }
  return { room, doc, provider, saved, events, close }
}

for (const kind of Object.keys(providers)) {
  test(`${kind}: local edits are unsaved, then saved, and a second client sees them`, async () => {
    let c
    const logged = await consoleDuring(async () => {
      c = tracked(kind)
      try {
        await until(() => c.provider.synced, 'sync')
        assert.equal(c.saved.hasUnsavedChanges, false)
        c.doc.getText('t').insert(0, 'hello')
        c.doc.getMap('m').set('k', 1)
        assert.equal(c.saved.hasUnsavedChanges, true)
        assert.deepEqual(c.events, ['unsaved'])
        await until(() => !c.saved.hasUnsavedChanges, 'saved')
        assert.deepEqual(c.events, ['unsaved', 'saved'])
        const other = await readRoom(server.host, c.room)
        assert.deepEqual(other, { text: 'hello', map: { k: 1 } })
      } finally {
        c.close()
      }
    })
    assert.deepEqual(logged, [], 'the provider logged nothing (no "Unable to compute message")')
  })

  test(`${kind}: a burst of edits ends saved, with one request per quiet moment`, async () => {
    const c = tracked(kind)
    try {
      await until(() => c.provider.synced, 'sync')
      const sent = []
      const ws = c.provider.ws
      const send = ws.send.bind(ws)
      ws.send = (data, ...rest) => {
        if (data instanceof Uint8Array && data[0] === messageSaved) sent.push(data)
        return send(data, ...rest)
      }
      const text = c.doc.getText('t')
      for (let i = 0; i < 500; i++) text.insert(text.length, `${i % 10}`) // 500 updates, 500 messages
      for (let i = 0; i < 100; i++) c.doc.getMap('m').set(`k${i}`, i)
      assert.equal(c.saved.hasUnsavedChanges, true)
      await until(() => !c.saved.hasUnsavedChanges, 'saved')
      assert.deepEqual(c.events, ['unsaved', 'saved'])
      assert.equal(sent.length, 1, 'the burst made one request (the edits came faster than the debounce)')
      const other = await readRoom(server.host, c.room)
      assert.equal(other.text.length, 500)
      assert.equal(Object.keys(other.map).length, 100)
    } finally {
      c.close()
    }
  })

  test(`${kind}: edits made before the provider connects are saved after it syncs`, async () => {
    const c = tracked(kind, newRoom(), { connect: false })
    try {
      c.doc.getText('t').insert(0, 'offline first')
      await sleep(400) // past the debounce: there is no socket to ask on
      assert.equal(c.saved.hasUnsavedChanges, true)
      c.provider.connect()
      await until(() => !c.saved.hasUnsavedChanges, 'saved after connecting')
      assert.deepEqual(c.events, ['unsaved', 'saved'])
      const other = await readRoom(server.host, c.room)
      assert.equal(other.text, 'offline first')
    } finally {
      c.close()
    }
  })

  test(`${kind}: remote changes leave the state saved`, async () => {
    const c = tracked(kind)
    const doc = new Y.Doc()
    const writer = providers.websocket(server.host, c.room, doc)
    try {
      await until(() => c.provider.synced && writer.synced, 'both synced')
      doc.getText('t').insert(0, 'from someone else')
      await until(() => c.doc.getText('t').toString() === 'from someone else', 'the remote change')
      await sleep(400)
      assert.equal(c.saved.hasUnsavedChanges, false)
      assert.deepEqual(c.events, [])
    } finally {
      writer.destroy()
      doc.destroy()
      c.close()
    }
  })
}

test('without a handler for 102 a provider logs "Unable to compute message" and carries on', async () => {
  // why the module installs one: y-websocket and y-partykit look the type up in provider.messageHandlers
  for (const kind of Object.keys(providers)) {
    const doc = new Y.Doc()
    const p = providers[kind](server.host, newRoom(), doc)
    try {
      await until(() => p.synced, 'sync')
      const logged = await consoleDuring(async (seen) => {
        p.ws.send(encodeSavedRequest(7)) // the server answers it; the provider has no handler
        await until(() => seen.length > 0, 'the answer to be handled')
        await sleep(200) // and nothing else follows
      })
      assert.deepEqual(logged, ['Unable to compute message'], kind)
      assert.equal(p.synced, true, kind)
      assert.equal(p.wsconnected, true, kind)
    } finally {
      p.destroy()
      doc.destroy()
    }
  }
})

test('clients that never send 102 never receive one', async () => {
  const room = newRoom()
  const observer = await rawClient(server.host, room)
  const plainDoc = new Y.Doc()
  const plain = providers.partykit(server.host, room, plainDoc)
  const c = tracked('websocket', room)
  const own = new Y.Doc()
  try {
    await until(() => plain.synced && c.provider.synced, 'both providers synced')
    // the raw client writes too: a sync update of its own
    own.getText('t').insert(0, 'raw ')
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, 0) // sync
    encoding.writeVarUint(e, 2) // update
    encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(own))
    observer.send(encoding.toUint8Array(e))
    plainDoc.getText('t').insert(0, 'plain ')
    c.doc.getText('t').insert(0, 'tracked ')
    await until(() => !c.saved.hasUnsavedChanges, 'the tracked client saved')
    await until(() => plainDoc.getText('t').length === 'raw plain tracked '.length, 'the plain provider has every edit')
    await sleep(300)
    assert.ok(observer.types.includes(0), 'the raw client received sync messages')
    assert.ok(!observer.types.includes(messageSaved), `the raw client received ${observer.types}`)
  } finally {
    observer.close()
    plain.destroy()
    plainDoc.destroy()
    own.destroy()
    c.close()
  }
})

test('the server answers a request with exactly its bytes', async () => {
  const room = newRoom()
  const raw = await rawClient(server.host, room)
  const answers = []
  try {
    const request = encodeSavedRequest(300) // a two-byte varUint payload
    raw.ws.on('message', (data) => {
      const bytes = new Uint8Array(data)
      if (bytes[0] === messageSaved) answers.push(bytes)
    })
    raw.send(request)
    await until(() => answers.length === 1, 'the answer')
    assert.deepEqual(answers[0], request)
  } finally {
    raw.close()
  }
})
