// The server killed and started again on the same port and data directory: always a server process
// of our own (even when RIPPLE_URL names a shared one), stopped by its PID in the end.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import * as Y from 'yjs'
import { trackSaved } from '../index.js'
import { startServer } from './server.js'
import { providers, newRoom, readRoom, until, sleep } from './clients.js'

/** Runs fn with a server process of its own; every process it started is gone after, and its data. */
const withServer = async (fn) => {
  const servers = []
  const start = async (opts) => {
    const s = await startServer(opts)
    servers.push(s)
    return s
  }
  const first = await start()
  try {
    await fn(first, () => start({ port: first.port, dataDir: first.dataDir }))
  } finally {
    for (const s of servers.reverse()) await s.kill('SIGTERM')
    rmSync(first.dataDir, { recursive: true, force: true })
  }
}

for (const kind of Object.keys(providers)) {
  test(`${kind}: killed while unsaved, the state stays unsaved; after a restart the provider resyncs and ends saved`, async () => {
    await withServer(async (server, restart) => {
      const room = newRoom()
      const doc = new Y.Doc()
      const provider = providers[kind](server.host, room, doc)
      const saved = trackSaved(provider)
      const events = []
      saved.on('saved', () => events.push('saved'))
      saved.on('unsaved', () => events.push('unsaved'))
      const text = doc.getText('t')
      try {
        await until(() => provider.synced, 'sync')
        text.insert(0, 'one ')
        await until(() => !saved.hasUnsavedChanges, 'the first edit saved')

        process.kill(server.pid, 'SIGSTOP') // frozen: the next edit and its request reach the socket, no answer comes
        text.insert(text.length, 'two ')
        await sleep(600) // past the debounce: the request is on the socket
        assert.equal(saved.hasUnsavedChanges, true)
        await server.kill('SIGKILL')
        await until(() => !provider.wsconnected, 'the provider to see the connection drop')
        text.insert(text.length, 'three') // while the server is down
        await sleep(1000)
        assert.equal(saved.hasUnsavedChanges, true)
        assert.deepEqual(events, ['unsaved', 'saved', 'unsaved'])

        const again = await restart()
        await until(() => !saved.hasUnsavedChanges, 'saved after the restart', 60_000)
        assert.deepEqual(events, ['unsaved', 'saved', 'unsaved', 'saved'])
        assert.equal((await readRoom(again.host, room)).text, 'one two three')
      } finally {
        saved.destroy()
        provider.destroy()
        doc.destroy()
      }
    })
  })
}

// The promise behind 'saved': the server writes each journal commit to its file before answering
// (H2 WRITE_DELAY=0), so a SIGKILL right after the answer loses nothing it acknowledged.
test('a change acknowledged as saved survives a SIGKILL right after the answer', async () => {
  await withServer(async (server, restart) => {
    const room = newRoom()
    const doc = new Y.Doc()
    const provider = providers.websocket(server.host, room, doc)
    const saved = trackSaved(provider, { debounceMs: 0 })
    let killed = false
    saved.on('saved', () => {
      if (killed) return
      killed = true
      process.kill(server.pid, 'SIGKILL') // in the answer's own event: nothing more reaches the server
    })
    try {
      await until(() => provider.synced, 'sync')
      for (let i = 0; i < 50; i++) doc.getText('t').insert(0, 'x')
      doc.getMap('m').set('last', 'edit')
      await until(() => killed, 'the answer')
      await server.kill('SIGKILL')
      provider.disconnect()
      const again = await restart()
      const read = await readRoom(again.host, room)
      assert.deepEqual(read, { text: 'x'.repeat(50), map: { last: 'edit' } })
    } finally {
      saved.destroy()
      provider.destroy()
      doc.destroy()
    }
  })
})
