#!/usr/bin/env node
// The reference server: @y/websocket-server's own connection handler (setupWSConnection, in
// memory, no persistence) behind a `ws` server, wired exactly as its y-websocket-server bin does,
// plus one extra loopback-only HTTP route for the benchmark:
//
//   GET /__bench/heap   runs gc() (needs node --expose-gc) and answers process.memoryUsage() and
//                        the number of documents and connections as JSON
//
//   HOST=127.0.0.1 PORT=1234 node --expose-gc ref-server.mjs
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { setupWSConnection, docs } from '@y/websocket-server/utils'

const host = process.env.HOST || '127.0.0.1'
const port = Number(process.env.PORT || 1234)
if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host)) {
  console.error('ref-server binds to loopback only')
  process.exit(2)
}

const wss = new WebSocketServer({ noServer: true })
wss.on('connection', setupWSConnection)

const server = http.createServer((req, res) => {
  if (req.url === '/__bench/heap') {
    if (typeof globalThis.gc === 'function') {
      for (let i = 0; i < 3; i++) globalThis.gc()
    }
    let connections = 0
    for (const doc of docs.values()) connections += doc.conns.size
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ gc: typeof globalThis.gc === 'function', ...process.memoryUsage(), docs: docs.size, connections }))
    return
  }
  res.writeHead(200, { 'Content-Type': 'text/plain' })
  res.end('okay')
})

server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request))
})

server.listen(port, host, () => {
  console.log(`@y/websocket-server reference listening on ${host}:${port}`)
})

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const c of wss.clients) c.terminate()
    server.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  })
}
