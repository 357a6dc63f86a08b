// The Ripple server the tests talk to, on 127.0.0.1 only.
//
// sharedServer(): the server given by RIPPLE_URL (ws://127.0.0.1:PORT) or RIPPLE_PORT when set (the
// Java test runs one in its JVM), else a server process of our own.
// startServer(): a server process of our own (tests that kill it need one), started as users run it:
// COLLAB_PORT / COLLAB_BIND_HOST / COLLAB_DATA_DIR and `java -jar ../target/ripple-collab.jar`, or the
// command in RIPPLE_SERVER_COMMAND (a JSON array; the Java test passes its class path).
import { spawn } from 'node:child_process'
import { mkdtempSync, existsSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const repo = join(here, '..', '..')
const LISTENING = 'Ripple collaboration server listening on'
const START_TIMEOUT_MS = 120_000

/** A free TCP port on 127.0.0.1 (asked of the OS, then released). */
export const freePort = () => new Promise((resolve, reject) => {
  const s = createServer()
  s.once('error', reject)
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address()
    s.close(() => resolve(port))
  })
})

/** Server processes still running: should this process end without stopping them, they go with it. */
const running = new Set()
process.on('exit', () => {
  for (const pid of running) {
    try { process.kill(pid, 'SIGKILL') } catch (_gone) {}
  }
})

const serverCommand = () => {
  if (process.env.RIPPLE_SERVER_COMMAND) return JSON.parse(process.env.RIPPLE_SERVER_COMMAND)
  const jar = join(repo, 'target', 'ripple-collab.jar')
  if (!existsSync(jar)) throw new Error(`${jar} is missing: build it with ./mvnw -B -q -o package -DskipTests, or set RIPPLE_URL`)
  return ['java', '-jar', jar]
}

/**
 * Starts a server process; resolves once it logs that it listens. Same port and data directory
 * again: pass them (a restart after a kill).
 * @param {{ port?: number, dataDir?: string }} [opts]
 */
export const startServer = async ({ port, dataDir } = {}) => {
  port ??= await freePort()
  const ownDir = dataDir === undefined
  dataDir ??= mkdtempSync(join(tmpdir(), 'ripple-saved-'))
  const env = Object.fromEntries(Object.entries(process.env)
    .filter(([k]) => !k.startsWith('COLLAB_') && !k.startsWith('CONVEX_') && k !== 'PARTYKIT_SECRET'))
  Object.assign(env, { COLLAB_PORT: String(port), COLLAB_BIND_HOST: '127.0.0.1', COLLAB_DATA_DIR: dataDir })
  const [cmd, ...args] = serverCommand()
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  if (child.pid !== undefined) running.add(child.pid)
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    running.delete(child.pid)
    resolve({ code, signal })
  }))
  const listening = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log = (log + chunk).slice(-20_000)
      if (log.includes(LISTENING)) resolve()
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('error', reject)
    exited.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before listening:\n${log}`)))
  })
  let timer
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`server not listening within ${START_TIMEOUT_MS} ms:\n${log}`)), START_TIMEOUT_MS)
  })
  const server = {
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    pid: child.pid,
    log: () => log,
    /** Sends a signal to the process (by its PID) and waits, bounded, until it has exited. */
    async kill (signal = 'SIGTERM', ms = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      try {
        process.kill(child.pid, signal)
      } catch (e) {
        if (e.code !== 'ESRCH') throw e // gone already (killed by the test itself): wait for its exit below
      }
      let t
      const late = new Promise((resolve) => { t = setTimeout(() => resolve('late'), ms) })
      const how = await Promise.race([exited, late])
      clearTimeout(t)
      if (how === 'late') {
        process.kill(child.pid, 'SIGKILL')
        await exited
        throw new Error(`server pid ${child.pid} did not exit within ${ms} ms of ${signal}`)
      }
    },
    /** Stops the process and removes the data directory if this call made it. */
    async stop () {
      try {
        await server.kill('SIGTERM')
      } finally {
        if (ownDir) rmSync(dataDir, { recursive: true, force: true })
      }
    }
  }
  try {
    await Promise.race([listening, timeout])
  } catch (e) {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL')
      await exited
    }
    if (ownDir) rmSync(dataDir, { recursive: true, force: true })
    throw e
  } finally {
    clearTimeout(timer)
  }
  return server
}

/** The server named by RIPPLE_URL / RIPPLE_PORT (stop() does nothing), or a process of our own. */
export const sharedServer = async () => {
  const url = process.env.RIPPLE_URL
  const port = process.env.RIPPLE_PORT
  if (url || port) {
    const host = url ? new URL(url).host : `127.0.0.1:${port}`
    return { host, port: Number(host.split(':')[1]), stop: async () => {} }
  }
  return startServer()
}
