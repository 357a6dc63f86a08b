#!/usr/bin/env node
// Hocuspocus as the benchmark runs it: @hocuspocus/server with no extension (documents in memory,
// nothing stored), loopback only. For capacity.sh's curve; the clients use @hocuspocus/provider
// (loadgen.mjs --client hocuspocus).
//
//   HOST=127.0.0.1 PORT=1234 node hocus-server.mjs
import { Server } from '@hocuspocus/server'

const host = process.env.HOST || '127.0.0.1'
const port = Number(process.env.PORT || 1234)
if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host)) {
  console.error('hocus-server binds to loopback only')
  process.exit(2)
}

const server = new Server({ address: host, port, quiet: true })
await server.listen()
console.log(`@hocuspocus/server listening on ${host}:${port}`)

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.destroy().finally(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  })
}
