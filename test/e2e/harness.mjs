// End-to-end harness: a real `wrangler dev` (workerd + local SQLite-backed D1) on a free loopback port,
// with its own state directory, so suites never share or leak state and can run next to a developer's `npm start`.
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");
const ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1" };

export const SECRETS = { JWT_SECRET: "e2e-jwt-secret-0123456789abcdef0123456789", ADMIN_PASSWORD: "e2e-admin-password" };

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Start the Worker. `vars` override wrangler.toml [vars] and secrets (e.g. GORUSH_URL pointing at a fake).
 * `beforeStart(persistDir, env)` runs after the migrations and before `wrangler dev` (e.g. to seed D1 in bulk).
 * Returns { url, stop, logs }.
 */
export async function startWorker({ vars = {}, timeoutMs = 60_000, beforeStart, logFile = null, devtools = true } = {}) {
  const port = await freePort();
  const inspector = await freePort();
  const persist = mkdtempSync(path.join(os.tmpdir(), "eo-e2e-"));
  // wrangler appends every debug message to a log file; keep it with the run's state (removed by stop()) rather
  // than let suites and benchmarks grow ~/.config/.wrangler/logs by gigabytes.
  const env = { ...ENV, WRANGLER_LOG_PATH: path.join(persist, "wrangler-debug.log") };
  const mig = spawnSync(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], {
    cwd: ROOT,
    env,
    encoding: "utf8",
  });
  if (mig.status !== 0) throw new Error(`migrations failed:\n${mig.stdout}\n${mig.stderr}`);
  if (beforeStart) await beforeStart(persist, env);
  // Every simulated client here comes from loopback: the per-address rate limits (tested in test/auth/abuse.test.ts)
  // would otherwise throttle the bursts and load tests. A suite that tests the limits passes its own RATE_LIMIT_EXEMPT.
  const all = { PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, RATE_LIMIT_EXEMPT: "127.0.0.1,::1", ...SECRETS, ...vars };
  if (!devtools) return startWithoutDevtools({ port, persist, vars: all });
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", persist];
  for (const [k, v] of Object.entries(all)) args.push("--var", `${k}:${v}`);
  const child = spawn(WRANGLER, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  // A run killed from outside (timeout, Ctrl-C) must not leave wrangler and workerd behind to load the machine.
  const reap = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", reap);
  for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => process.exit(128 + (sig === "SIGINT" ? 2 : 15)));
  // Keep the last MAX_LOG characters only (a long benchmark must not grow a string without bound); `logFile` keeps all.
  const MAX_LOG = 1_000_000;
  let logs = "";
  const sink = logFile ? createWriteStream(logFile) : null;
  const onData = (d) => {
    sink?.write(d);
    logs += d;
    if (logs.length > 2 * MAX_LOG) logs = logs.slice(-MAX_LOG);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${logs}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      stopChild(child);
      throw new Error(`wrangler dev not ready after ${timeoutMs} ms:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    port,
    get logs() {
      return logs;
    },
    async stop() {
      await stopChild(child);
      rmSync(persist, { recursive: true, force: true });
    },
  };
}

/**
 * The same dev server (wrangler's DevEnv: its proxy worker, Miniflare, workerd, local D1) started through
 * wrangler's own API with the devtools inspector off. `wrangler dev` always attaches one and enables its Network
 * domain, so every subrequest (each local D1 query is one) sends four devtools events through wrangler's Node
 * process into its debug log; benchmarks use this mode to measure the Worker rather than that relay.
 */
let inProcessLogDir = null;

async function startWithoutDevtools({ port, persist, vars }) {
  // wrangler runs in this process here and may still log after stop(): its debug log lives in a directory of
  // its own, removed when the process exits.
  if (!inProcessLogDir) {
    inProcessLogDir = mkdtempSync(path.join(os.tmpdir(), "eo-wrangler-log-"));
    process.once("exit", () => rmSync(inProcessLogDir, { recursive: true, force: true }));
  }
  Object.assign(process.env, {
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_LOG_PATH: path.join(inProcessLogDir, "wrangler-debug.log"),
  });
  const { unstable_startWorker } = await import("wrangler");
  const worker = await unstable_startWorker({
    config: path.join(ROOT, "wrangler.toml"),
    dev: { server: { hostname: "127.0.0.1", port }, inspector: false, persist, watch: false, logLevel: "warn" },
    bindings: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { type: "plain_text", value: String(v) }])),
  });
  await worker.ready;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    logs: "",
    async stop() {
      await worker.dispose();
      rmSync(persist, { recursive: true, force: true });
    },
  };
}

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    try {
      process.kill(-child.pid, "SIGINT");
    } catch {
      child.kill("SIGINT");
    }
    setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5000).unref();
  });
}

/** An OONI probe's register body as real clients send it (ooniprobe-android on wifi with a push token), with overrides. */
export function probeBody(over = {}) {
  return {
    probe_cc: "IT",
    probe_asn: "AS1234",
    platform: "android",
    software_name: "ooniprobe-android",
    software_version: "3.8.0",
    supported_tests: ["web_connectivity"],
    network_type: "wifi",
    token: "fcm-token",
    ...over,
  };
}

/** How many requests a write's D1 round trip carried, from its `Server-Timing: commit;desc="shared by N"` (0 if absent). */
export const sharedBy = (headers) => Number(/commit;desc="shared by (\d+)"/.exec(headers.get("server-timing") ?? "")?.[1] ?? 0);

/** A JSON client for one server. */
export function client(base) {
  return async function call(method, p, { json, token, headers = {}, raw } = {}) {
    const h = { ...headers };
    let body = raw;
    if (json !== undefined) {
      h["content-type"] = "application/json";
      body = JSON.stringify(json);
    }
    if (token) h.authorization = `Bearer ${token}`;
    const res = await fetch(`${base}${p}`, { method, headers: h, body });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // keep text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/** Poll `check` until it returns something truthy; fail with `what` after `timeoutMs`. */
export async function eventually(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
