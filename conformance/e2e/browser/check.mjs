// Real-browser check: two headless Chromium pages (separate browser contexts) open page/index.html,
// each bound to the same Y.Text through y-websocket against a Ripple server on 127.0.0.1, type
// concurrently, and must converge. Screenshots go to <repo>/target/conformance/browser-*.png.
// Usage: node check.mjs <port> [room]; prints one JSON line {ok, valueA, valueB, screenshots, ...}
// and exits 0 when the two textareas converged on one interleaving of both inputs, 1 otherwise.
// Needs Debian's chromium (install-chromium.sh) and `npm run build` (dist/main.js). Every wait is bounded.
import http from 'node:http'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, '..', '..', '..')
const outDir = path.join(repo, 'target', 'conformance')
const port = Number(process.argv[2])
const room = process.argv[3] || `doc-browser-${Date.now().toString(36)}`
const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

const TOTAL_MS = 120_000 // hard bound on the whole check
const STEP_MS = 20_000 // bound on any one browser step
const CONVERGE_MS = 20_000

const inputA = 'Alpha typed in page A 🚀 done.'
const inputB = 'Bravo from page B, ünïcödé 🎉 end.'

const log = (...a) => console.error('[browser-check]', ...a)

/** Whether the code points of s are exactly those of x and y merged, each kept in its own order. */
const isInterleaving = (s, x, y) => {
  const [S, X, Y] = [s, x, y].map((t) => Array.from(t))
  if (S.length !== X.length + Y.length) return false
  // ok[j]: the first i + j code points of S interleave X[0, i) and Y[0, j)
  let ok = new Array(Y.length + 1)
  ok[0] = true
  for (let j = 1; j <= Y.length; j++) ok[j] = ok[j - 1] && S[j - 1] === Y[j - 1]
  for (let i = 1; i <= X.length; i++) {
    const next = new Array(Y.length + 1)
    next[0] = ok[0] && S[i - 1] === X[i - 1]
    for (let j = 1; j <= Y.length; j++) {
      next[j] = (ok[j] && S[i + j - 1] === X[i - 1]) || (next[j - 1] && S[i + j - 1] === Y[j - 1])
    }
    ok = next
  }
  return ok[Y.length]
}
let finished = false
const cleanups = []
const cleanup = async () => {
  for (const f of cleanups.reverse()) {
    try { await Promise.race([f(), new Promise((resolve) => setTimeout(resolve, 10_000))]) } catch (e) { log('cleanup:', e.message) }
  }
}
const done = async (ok, detail) => {
  if (finished) return
  finished = true
  await cleanup()
  console.log(JSON.stringify({ ok, ...detail }))
  process.exit(ok ? 0 : 1)
}
const watchdog = setTimeout(() => done(false, { reason: `check did not finish within ${TOTAL_MS} ms` }), TOTAL_MS)
watchdog.unref()

if (!Number.isInteger(port) || port <= 0) {
  await done(false, { reason: 'usage: node check.mjs <server-port> [room]' })
}
for (const [file, hint] of [[executablePath, 'run install-chromium.sh'], [path.join(here, 'dist', 'main.js'), 'run npm run build']]) {
  if (!fs.existsSync(file)) await done(false, { reason: `${file} is missing (${hint})` })
}

// ---- static server for page/ and dist/ on an ephemeral 127.0.0.1 port ----------------------------
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json' }
const roots = { '/dist/': path.join(here, 'dist'), '/': path.join(here, 'page') }
const httpServer = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1')
  let pathname = decodeURIComponent(url.pathname)
  if (pathname === '/') pathname = '/index.html'
  const prefix = pathname.startsWith('/dist/') ? '/dist/' : '/'
  const root = roots[prefix]
  const file = path.resolve(root, '.' + pathname.slice(prefix.length - 1))
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
    return
  }
  res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' })
  res.end(req.method === 'HEAD' ? undefined : fs.readFileSync(file))
})
await new Promise((resolve, reject) => httpServer.once('error', reject).listen(0, '127.0.0.1', resolve))
cleanups.push(() => new Promise((resolve) => { httpServer.closeAllConnections(); httpServer.close(() => resolve()) }))
const pageBase = `http://127.0.0.1:${httpServer.address().port}/`
log('page server', pageBase, 'ripple port', port, 'room', room)

// ---- chromium -----------------------------------------------------------------------------------
// Playwright refuses --user-data-dir in args for launch(); it makes its own profile with mkdtemp under
// os.tmpdir(). Pointing TMPDIR at a fresh directory of ours keeps that profile (and chromium's other
// temporary files) in one place that we delete at the end, even if the browser dies.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ripple-browser-'))
cleanups.push(async () => fs.rmSync(tmp, { recursive: true, force: true }))
process.env.TMPDIR = tmp

const browser = await chromium.launch({
  executablePath,
  headless: true,
  timeout: 60_000,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // chromium refuses a few "unsafe" ports (6000, 6665-6669, 10080, ...); the server's port is whatever it got
    `--explicitly-allowed-ports=${port},${httpServer.address().port}`],
  env: { ...process.env, TMPDIR: tmp }
}).catch((e) => done(false, { reason: `chromium did not start: ${e.message.split('\n').slice(0, 6).join(' | ')}` }))
cleanups.push(() => browser.close())
log('chromium', browser.version())

const consoleLines = []
const lastConsole = () => [...new Set(consoleLines)].slice(-10)
const open = async (name) => {
  const context = await browser.newContext({ viewport: { width: 640, height: 420 }, deviceScaleFactor: 1 })
  context.setDefaultTimeout(STEP_MS)
  // only loopback traffic: anything else is refused at the browser
  await context.route(/.*/, (route) => {
    const u = new URL(route.request().url())
    return (u.hostname === '127.0.0.1' || u.protocol === 'data:') ? route.continue() : route.abort()
  })
  const page = await context.newPage()
  page.on('console', (m) => consoleLines.push(`${name} ${m.type()}: ${m.text()}`))
  page.on('pageerror', (e) => consoleLines.push(`${name} pageerror: ${e.message}`))
  const q = new URLSearchParams({ server: `ws://127.0.0.1:${port}`, room, name })
  await page.goto(`${pageBase}?${q}`, { waitUntil: 'load' })
  return page
}

const shot = async (page, file) => {
  const p = path.join(outDir, file)
  await page.screenshot({ path: p, timeout: STEP_MS })
  return p
}

try {
  fs.mkdirSync(outDir, { recursive: true })
  const [pageA, pageB] = await Promise.all([open('A'), open('B')])
  const synced = '#status[data-synced="true"][data-status="connected"]'
  await Promise.all([pageA.waitForSelector(synced), pageB.waitForSelector(synced)])
  log('both pages synced')

  // both type at the same time; a small per-key delay lets updates cross while typing goes on. Each page's
  // count of remote edits, read as soon as its own typing ends, shows the typing really overlapped.
  const typeIn = async (page, text, delay) => {
    await page.locator('#text').pressSequentially(text, { delay })
    return page.evaluate(() => window.ripple.remoteChanges())
  }
  const remoteDuringTyping = await Promise.all([typeIn(pageA, inputA, 25), typeIn(pageB, inputB, 30)])
  log('typing finished; remote edits seen by A and B while each was typing:', remoteDuringTyping)

  const read = async () => Promise.all([pageA.locator('#text').inputValue(), pageB.locator('#text').inputValue()])
  let [valueA, valueB] = await read()
  const end = Date.now() + CONVERGE_MS
  // Two people typing at once into one text: Yjs promises that both end with the same text and
  // that it is an interleaving of the two inputs (every character of each, once, in its author's
  // order). Whether each input also stays in one piece depends on where each page's caret was when
  // the other's characters arrived, which is Chromium timing, not the server; it is reported only.
  const converged = (a, b) => a === b && isInterleaving(a, inputA, inputB)
  while (!converged(valueA, valueB) && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    [valueA, valueB] = await read()
  }
  // the model behind each textarea must agree too
  const [modelA, modelB] = await Promise.all([pageA, pageB].map((p) => p.evaluate(() => window.ripple.ytext.toString())))
  const ok = converged(valueA, valueB) && modelA === valueA && modelB === valueB

  const screenshots = [await shot(pageA, 'browser-a.png'), await shot(pageB, 'browser-b.png')]
  // side by side: both screenshots as images on one more page
  const sideContext = await browser.newContext({ viewport: { width: 1300, height: 440 } })
  const side = await sideContext.newPage()
  const img = (f) => `data:image/png;base64,${fs.readFileSync(f).toString('base64')}`
  await side.setContent(`<body style="margin:0;padding:10px;background:#333;display:flex;gap:10px">
    <img src="${img(screenshots[0])}" width="640" height="420"><img src="${img(screenshots[1])}" width="640" height="420"></body>`)
  screenshots.push(await shot(side, 'browser-side-by-side.png'))

  await done(ok, {
    valueA, valueB, screenshots, room, remoteDuringTyping,
    inputsContiguous: valueA.includes(inputA) && valueA.includes(inputB),
    ...(ok ? {} : { reason: 'the two textareas did not converge on one interleaving of both inputs', modelA, modelB, console: lastConsole() })
  })
} catch (e) {
  await done(false, { reason: e.message.split('\n').slice(0, 8).join(' | '), console: lastConsole() })
}
