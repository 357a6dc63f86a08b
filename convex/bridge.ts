/**
 * A loopback HTTP server in front of convex-test: the real collaboration server (Ripple) can use
 * this deployment's very code as its CONVEX_SITE_URL, without a Convex deployment or network.
 *
 *   PARTYKIT_SECRET=... node --import tsx bridge.ts        (or: npm run bridge)
 *
 * - Listens on 127.0.0.1 (port BRIDGE_PORT, default 0 = any free port) and prints exactly
 *   `listening <port>` on stdout once ready. Everything else goes to stderr.
 * - Forwards every request, one at a time, to convex-test's `t.fetch` (the HTTP actions of
 *   convex/http.ts against an in-memory database and file storage). A path (and method) that no
 *   route matches is answered as a deployed Convex does: 404 `text/plain` `No matching routes found`.
 * - Test-only admin endpoints (same `Authorization: Bearer <PARTYKIT_SECRET>` as the actions):
 *     POST /__admin/token     body = createToken's args, e.g. {"token":"t","userId":"u","access":"write","rooms":["doc-1"]}
 *                             -> 200 {"token":..}
 *     GET  /__admin/snapshot?roomId=..   -> 200 the stored bytes (what the HTTP action would serve), 404 none
 *     GET  /__admin/state     -> 200 {"files":<files in storage>,"snapshots":[{roomId,size,updatedAt,storageId,updates}]}
 *   BRIDGE_SEED may hold a JSON array of createToken args to insert before listening.
 * - Exits when its stdin closes (unless BRIDGE_STDIN=ignore), on SIGTERM/SIGINT, and in any case
 *   after BRIDGE_LIFETIME_SECONDS (default 600), so it never lingers after a test.
 *
 * State lives in memory only and is gone when the process exits.
 */
import { convexTest } from "convex-test";
import { readdirSync } from "node:fs";
import { createServer, IncomingMessage, ServerResponse } from "node:http";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { internal } from "./convex/_generated/api.js";
import schema from "./convex/schema.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const FUNCTIONS = join(HERE, "convex");
/** Convex's own limit for an HTTP action's request body. */
const MAX_BODY = 20 * 1024 * 1024;
const HOP_BY_HOP = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "http2-settings", "expect", "te", "trailer"]);

const log = (...parts: unknown[]) => console.error("[bridge]", ...parts);

const secret = process.env.PARTYKIT_SECRET ?? "";
if (secret === "") {
  log("PARTYKIT_SECRET must be set");
  process.exit(2);
}

/**
 * The modules map convexTest wants (what `import.meta.glob("./convex/**\/*.*s")` gives under
 * vite): every .ts/.js file under convex/, keyed by a path containing "_generated" for the
 * generated ones, each a lazy import.
 */
function modulesOf(dir: string): Record<string, () => Promise<unknown>> {
  const modules: Record<string, () => Promise<unknown>> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) {
        walk(full);
      } else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) {
        const key = "./convex/" + relative(dir, full).split("\\").join("/");
        const url = pathToFileURL(full).href;
        modules[key] = () => import(url);
      }
    }
  };
  walk(dir);
  return modules;
}

const t = convexTest(schema, modulesOf(FUNCTIONS));

/** One request at a time: convex-test runs one transaction at a time and is not safe otherwise. */
let queue: Promise<unknown> = Promise.resolve();
function serially<R>(task: () => Promise<R>): Promise<R> {
  const run = queue.then(task, task);
  queue = run.catch(() => undefined);
  return run;
}

class TooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new TooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: Uint8Array | string, contentType: string) {
  const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": bytes.length });
  res.end(bytes);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, JSON.stringify(value), "application/json");

/** Exactly what a deployed Convex answers (404, text/plain) for a path that no route of its router matches. */
const NO_ROUTE = "No matching routes found";
const router = (await import(pathToFileURL(join(FUNCTIONS, "http.ts")).href)).default as {
  lookup(path: string, method: string): unknown;
};

async function forward(req: IncomingMessage, res: ServerResponse, body: Buffer) {
  const method = req.method ?? "GET";
  const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
  // convex-test words its no-route answer in its own way; the server must see the deployed one
  if (!router.lookup(path, method)) return send(res, 404, NO_ROUTE, "text/plain;charset=UTF-8");
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const response = await serially(() =>
    t.fetch(req.url ?? "/", {
      method,
      headers,
      body: method === "GET" || method === "HEAD" ? undefined : new Uint8Array(body),
    }),
  );
  const bytes = Buffer.from(await response.arrayBuffer());
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) out[name] = value;
  });
  out["content-length"] = String(bytes.length);
  res.writeHead(response.status, out);
  res.end(bytes);
}

async function admin(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer) {
  if (req.headers.authorization !== `Bearer ${secret}`) {
    return sendJson(res, 401, { error: "unauthorized", message: "admin endpoints need the secret too" });
  }
  if (req.method === "POST" && url.pathname === "/__admin/token") {
    const args = JSON.parse(body.toString("utf8"));
    const token = await serially(() => t.mutation(internal.collaboration.createToken, args));
    return sendJson(res, 200, { token });
  }
  if (req.method === "GET" && url.pathname === "/__admin/snapshot") {
    const roomId = url.searchParams.get("roomId") ?? "";
    const bytes = await serially(async () => {
      const row = await t.query(internal.snapshots.get, { roomId });
      if (row === null) return null;
      // a Blob is no Convex value: hand the bytes out of t.run as an ArrayBuffer
      const buffer = await t.run(async (ctx) => {
        const blob = await ctx.storage.get(row.storageId);
        return blob === null ? null : await blob.arrayBuffer();
      });
      return buffer === null ? null : new Uint8Array(buffer);
    });
    return bytes === null
      ? sendJson(res, 404, { error: "not_found", message: `no snapshot for room ${roomId}` })
      : send(res, 200, bytes, "application/octet-stream");
  }
  if (req.method === "GET" && url.pathname === "/__admin/state") {
    const state = await serially(() =>
      t.run(async (ctx) => ({
        files: (await ctx.db.system.query("_storage").collect()).length,
        snapshots: (await ctx.db.query("snapshots").collect()).map(({ roomId, size, updatedAt, storageId, updates }) => ({
          roomId,
          size,
          updatedAt,
          storageId,
          updates: updates ?? 0,
        })),
      })),
    );
    return sendJson(res, 200, state);
  }
  return sendJson(res, 404, { error: "not_found", message: `no admin route ${req.method} ${url.pathname}` });
}

const server = createServer(async (req, res) => {
  const started = Date.now();
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  try {
    const body = await readBody(req);
    if (url.pathname.startsWith("/__admin/")) {
      await admin(req, res, url, body);
    } else {
      await forward(req, res, body);
    }
  } catch (e) {
    if (e instanceof TooLarge) {
      sendJson(res, 413, { error: "too_large", message: `request body over ${MAX_BODY} bytes` });
    } else {
      log("error", req.method, req.url, e);
      if (!res.headersSent) sendJson(res, 500, { error: "bridge", message: String(e) });
      else res.destroy();
    }
  } finally {
    log(`${req.method} ${req.url} -> ${res.statusCode} (${Date.now() - started} ms)`);
  }
});

function stop(reason: string, code = 0) {
  log("exiting:", reason);
  server.close();
  process.exit(code);
}

for (const seed of JSON.parse(process.env.BRIDGE_SEED ?? "[]")) {
  await t.mutation(internal.collaboration.createToken, seed);
}

const lifetime = Number(process.env.BRIDGE_LIFETIME_SECONDS ?? 600);
setTimeout(() => stop(`lifetime of ${lifetime} s is over`), lifetime * 1000);
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
if (process.env.BRIDGE_STDIN !== "ignore") {
  process.stdin.on("end", () => stop("stdin closed"));
  process.stdin.on("close", () => stop("stdin closed"));
  process.stdin.on("error", () => stop("stdin error"));
  process.stdin.resume();
}

server.listen(Number(process.env.BRIDGE_PORT ?? 0), "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  process.stdout.write(`listening ${port}\n`);
});
