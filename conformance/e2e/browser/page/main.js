// A textarea bound to a Y.Text through y-websocket's WebsocketProvider.
// Query string: ?server=ws://127.0.0.1:PORT&room=doc-browser[&name=A]
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'

const params = new URLSearchParams(location.search)
const server = params.get('server') || `ws://${location.hostname}:1234`
const room = params.get('room') || 'doc-browser'
const name = params.get('name') || ''

const doc = new Y.Doc()
const ytext = doc.getText('text')
// disableBc: the two pages must talk only through the server, never through BroadcastChannel
const provider = new WebsocketProvider(server, room, doc, { disableBc: true })

const textarea = document.getElementById('text')
const statusEl = document.getElementById('status')
document.getElementById('who').textContent = name || 'page'
document.getElementById('room').textContent = `${server}/${room}`

let connection = 'connecting'
const showStatus = () => {
  const synced = provider.synced
  statusEl.dataset.status = connection
  statusEl.dataset.synced = String(synced)
  statusEl.textContent = `${connection} · ${synced ? 'synced' : 'waiting for sync'}`
  textarea.disabled = !synced
}
provider.on('status', ({ status }) => { connection = status; showStatus() })
provider.on('sync', showStatus)
showStatus()

const isHigh = (c) => c >= 0xd800 && c <= 0xdbff
const isLow = (c) => c >= 0xdc00 && c <= 0xdfff

/**
 * The single edit that turns a into b: common prefix and suffix are kept, the middle is replaced.
 * Boundaries never split a surrogate pair (Y.Text counts UTF-16 units, like the textarea).
 */
export const diff = (a, b) => {
  const max = Math.min(a.length, b.length)
  let p = 0
  while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++
  if (p > 0 && isHigh(a.charCodeAt(p - 1))) p--
  let s = 0
  while (s < max - p && a.charCodeAt(a.length - 1 - s) === b.charCodeAt(b.length - 1 - s)) s++
  if (s > 0 && isLow(a.charCodeAt(a.length - s))) s--
  return { index: p, remove: a.length - p - s, insert: b.slice(p, b.length - s) }
}

const LOCAL = Symbol('textarea')

textarea.value = ytext.toString()

textarea.addEventListener('input', () => {
  const { index, remove, insert } = diff(ytext.toString(), textarea.value)
  if (remove === 0 && insert === '') return
  doc.transact(() => {
    if (remove > 0) ytext.delete(index, remove)
    if (insert) ytext.insert(index, insert)
  }, LOCAL)
})

/**
 * Where a caret at pos ends up after a remote change. A remote insert exactly at the caret goes
 * after it, so a local run of typing stays in one piece while someone else types at the same spot.
 */
const mapPos = (delta, pos) => {
  let at = 0 // position in the old text
  let out = pos
  for (const op of delta) {
    if (at > pos) break
    if (op.retain != null) {
      at += op.retain
    } else if (op.insert != null) {
      const len = typeof op.insert === 'string' ? op.insert.length : 1
      if (at < pos) out += len
    } else if (op.delete != null) {
      if (at < pos) out -= Math.min(op.delete, pos - at)
      at += op.delete
    }
  }
  return Math.max(0, out)
}

let remoteChanges = 0
ytext.observe((event, tr) => {
  if (tr.origin === LOCAL) return // the textarea already shows this edit
  remoteChanges++
  const value = ytext.toString()
  if (textarea.value === value) return
  const focused = document.activeElement === textarea
  const start = mapPos(event.delta, textarea.selectionStart)
  const end = mapPos(event.delta, textarea.selectionEnd)
  const dir = textarea.selectionDirection
  textarea.value = value
  if (focused) textarea.setSelectionRange(start, end, dir)
})

// for the check's diagnostics
window.ripple = { doc, ytext, provider, diff, remoteChanges: () => remoteChanges }
