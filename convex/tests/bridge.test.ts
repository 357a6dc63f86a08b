// @vitest-environment node
/**
 * The loopback bridge (bridge.ts) as the Java end-to-end test uses it: a child process that
 * prints its port, forwards to the HTTP actions, answers the admin endpoints, and exits when its
 * stdin closes.
 */
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, test } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SECRET = "bridge-test-secret";
const AUTH = { Authorization: `Bearer ${SECRET}` };

let child: ChildProcessWithoutNullStreams | null = null;

afterEach(() => {
  if (child !== null && child.exitCode === null) child.kill("SIGKILL");
  child = null;
});

async function startBridge(env: Record<string, string> = {}): Promise<{ base: string; proc: ChildProcessWithoutNullStreams }> {
  const proc = spawn(process.execPath, ["--import", "tsx", "bridge.ts"], {
    cwd: ROOT,
    env: { ...process.env, PARTYKIT_SECRET: SECRET, BRIDGE_LIFETIME_SECONDS: "60", ...env },
  });
  child = proc;
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`bridge did not start: ${stderr}`)), 15000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /^listening (\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on("exit", (code) => reject(new Error(`bridge exited ${code}: ${stderr}`)));
  });
  return { base: `http://127.0.0.1:${port}`, proc };
}

test("forwards to the HTTP actions, keeps bytes exact, seeds and reads through the admin endpoints", async () => {
  const { base } = await startBridge({ BRIDGE_SEED: JSON.stringify([{ token: "seeded", userId: "u0", access: "read", rooms: ["doc-s"] }]) });
  const state = Uint8Array.from({ length: 70000 }, (_, i) => (i * 7919) & 0xff);
  const room = encodeURIComponent("doc-ä b/c");

  const saved = await fetch(`${base}/collaboration/snapshot?roomId=${room}&updates=3`, {
    method: "POST",
    headers: { ...AUTH, "Content-Type": "application/octet-stream" },
    body: state,
  });
  expect(saved.status).toBe(200);
  const read = await fetch(`${base}/collaboration/snapshot?roomId=${room}`, { headers: AUTH });
  expect(read.status).toBe(200);
  expect(read.headers.get("content-type")).toBe("application/octet-stream");
  expect(read.headers.get("x-ripple-updates")).toBe("3");
  expect(new Uint8Array(await read.arrayBuffer())).toEqual(state);
  const stored = await fetch(`${base}/__admin/snapshot?roomId=${room}`, { headers: AUTH });
  expect(new Uint8Array(await stored.arrayBuffer())).toEqual(state);
  expect((await fetch(`${base}/__admin/snapshot?roomId=doc-none`, { headers: AUTH })).status).toBe(404);
  expect((await fetch(`${base}/collaboration/snapshot?roomId=${room}`)).status).toBe(401);

  const verify = (token: string, roomId: string) =>
    fetch(`${base}/collaboration/verify`, {
      method: "POST",
      headers: { ...AUTH, "Content-Type": "application/json" },
      body: JSON.stringify({ token, roomId }),
    });
  expect(await (await verify("seeded", "doc-s")).json()).toEqual({ userId: "u0", access: "read" });
  const created = await fetch(`${base}/__admin/token`, {
    method: "POST",
    headers: { ...AUTH, "Content-Type": "application/json" },
    body: JSON.stringify({ token: "added", userId: "u1", access: "write", roomPrefixes: ["doc-"] }),
  });
  expect(await created.json()).toEqual({ token: "added" });
  expect(await (await verify("added", "doc-x")).json()).toEqual({ userId: "u1", access: "write" });
  expect((await verify("unknown", "doc-x")).status).toBe(401);
  expect((await verify("seeded", "doc-x")).status).toBe(403);
  expect((await fetch(`${base}/__admin/token`, { method: "POST", body: "{}" })).status).toBe(401);

  const state2 = await (await fetch(`${base}/__admin/state`, { headers: AUTH })).json();
  expect(state2).toMatchObject({ files: 1, snapshots: [{ roomId: "doc-ä b/c", size: state.length, updates: 3 }] });
});

test("concurrent requests are all answered", async () => {
  const { base } = await startBridge();
  const rooms = Array.from({ length: 20 }, (_, i) => `doc-${i}`);
  const results = await Promise.all(
    rooms.map((r, i) =>
      fetch(`${base}/collaboration/snapshot?roomId=${r}&updates=${i}`, {
        method: "POST",
        headers: { ...AUTH, "Content-Type": "application/octet-stream" },
        body: Uint8Array.of(i, i, i),
      }).then((res) => res.status),
    ),
  );
  expect(results).toEqual(rooms.map(() => 200));
  const state = await (await fetch(`${base}/__admin/state`, { headers: AUTH })).json();
  expect(state.files).toBe(20);
});

test("exits when its stdin closes", async () => {
  const { proc } = await startBridge();
  const exited = once(proc, "exit");
  proc.stdin.end();
  const [code] = await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error("still running")), 10000))]) as [number];
  expect(code).toBe(0);
});

test("exits when its lifetime is over", async () => {
  const { proc } = await startBridge({ BRIDGE_LIFETIME_SECONDS: "1" });
  const [code] = await Promise.race([once(proc, "exit"), new Promise((_, reject) => setTimeout(() => reject(new Error("still running")), 10000))]) as [number];
  expect(code).toBe(0);
});

test("refuses to start without PARTYKIT_SECRET", async () => {
  const proc = spawn(process.execPath, ["--import", "tsx", "bridge.ts"], { cwd: ROOT, env: { ...process.env, PARTYKIT_SECRET: "" } });
  child = proc;
  const [code] = (await once(proc, "exit")) as [number];
  expect(code).toBe(2);
});
