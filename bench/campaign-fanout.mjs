#!/usr/bin/env node
// Campaign fan-out benchmark: one run to N probes (default 10,000) through the fake gorush gateway (or the fake FCM),
// against wrangler's dev server with the devtools inspector off (test/e2e/harness.mjs `devtools: false`, as
// bench/registry.mjs): workerd, local D1, SQLite-backed Durable Objects with real alarms. No pacing setting.
//
// Measured in one run on one Worker: bare `GET /health` requests per second (16 clients, before and after the push
// wave), then cron fire → first and last probe pushed at the fake provider, pushes per second and its ratio to the
// bare route; every push checked (none lost, none duplicated, none outside the target); the workerd process's peak
// RSS and open files (sampled from /proc every second); local D1's size before and after the run.
//
//   node bench/campaign-fanout.mjs                              # 10,000 probes through fake gorush
//   node bench/campaign-fanout.mjs --provider direct            # fake FCM (Android, and iOS through FCM_IOS)
//   node bench/campaign-fanout.mjs --probes 100000              # the bulk run (bounded: --deadline-s, default 840)
//   node bench/campaign-fanout.mjs --probes 1000 --shards 16    # any SCHEDULER_SHARDS / FANOUT_PAGE_SIZE / SCHEDULER_BATCH
//
// Probes are seeded in bulk (`wrangler d1 execute --local --file` before the dev server starts, as bench/console.mjs),
// each with a valid push token; 10 more in another country must not be pushed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, SECRETS, client, startWorker } from "../test/e2e/harness.mjs";
import { directProviderVars } from "../tools/fake-common.mjs";
import { startFakeFcm } from "../tools/fake-fcm.mjs";
import { startFakeGorush } from "../tools/fake-gorush.mjs";
import { arg } from "./lib.mjs";

const N = Number(arg("probes", process.env.PROBES ?? 10_000));
const DIRECT = arg("provider", process.env.PROVIDER ?? "gorush") === "direct";
const DEADLINE_MS = Number(arg("deadline-s", N > 20_000 ? 840 : 480)) * 1000;
const HEALTH_SECONDS = Number(arg("health-seconds", 5));
const HEALTH_CLIENTS = 16;
const settings = Object.fromEntries(
  [
    ["shards", "SCHEDULER_SHARDS"],
    ["page-size", "FANOUT_PAGE_SIZE"],
    ["batch", "SCHEDULER_BATCH"],
    ["gorush-batch", "GORUSH_BATCH"],
    ["connections", "PUSH_CONNECTIONS"],
  ]
    .map(([a, name]) => [name, arg(a, process.env[name])])
    .filter(([, v]) => v !== undefined),
);

const platformOf = (i) => (i % 3 === 0 ? "ios" : "android");
// FCM and gorush tokens are opaque strings (iOS apps registered with Firebase have FCM tokens too).
const tokenOf = (i, cc) => `bench-${cc}-${i}`;

// ---- the fleet, as SQL ---------------------------------------------------------------------------------------------
function fleetSql() {
  const q = (s) => (s === null ? "NULL" : `'${String(s).replaceAll("'", "''")}'`);
  const at = new Date().toISOString();
  const rows = [];
  const add = (i, cc) => {
    const id = `${cc.toLowerCase()}-${String(i).padStart(7, "0")}-${crypto.randomUUID().slice(0, 8)}`;
    rows.push(
      `(${q(id)},${q(at)},${q(at)},${q(at)},${q(cc)},${q(`AS${64500 + (i % 20)}`)},${q(platformOf(i))},'ooniprobe-android','3.8.0','["web_connectivity"]','wifi',NULL,'en',NULL,NULL,${q(tokenOf(i, cc))},'valid',${q(at)},NULL)`,
    );
  };
  for (let i = 0; i < N; i++) add(i, "BN");
  for (let i = 0; i < 10; i++) add(i, "XX");
  const head =
    "INSERT INTO probes (id, created_at, updated_at, last_seen_at, probe_cc, probe_asn, platform, software_name, software_version, supported_tests, network_type, available_bandwidth, language, probe_family, probe_id, push_token, push_token_state, push_token_updated_at, password_hash)";
  const out = [];
  for (let i = 0; i < rows.length; i += 200) out.push(`${head} VALUES\n${rows.slice(i, i + 200).join(",\n")};`);
  return `${out.join("\n")}\nANALYZE;\n`;
}

// ---- the local D1 file and the workerd process ---------------------------------------------------------------------
let persistDir = null;
function d1File() {
  const dir = path.join(persistDir, "v3", "d1", "miniflare-D1DatabaseObject");
  const f = readdirSync(dir).find((n) => n.endsWith(".sqlite") && n !== "metadata.sqlite");
  return path.join(dir, f);
}
/** page_count × page_size of local D1 (what `PRAGMA` reports, i.e. without the -wal file), and the files' bytes. */
function d1Size() {
  const file = d1File();
  const r = spawnSync(
    "python3",
    [
      "-c",
      "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);print(c.execute('PRAGMA page_count').fetchone()[0]*c.execute('PRAGMA page_size').fetchone()[0])",
      file,
    ],
    {
      encoding: "utf8",
    },
  );
  const size = (p) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  return { pages_bytes: Number(r.stdout.trim()), file_bytes: size(file), wal_bytes: size(`${file}-wal`) };
}
/** The workerd processes started by this process (the dev server runs in-process with the inspector off). */
function workerdPids() {
  const children = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(Number(d), { ppid, comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
    } catch {
      // gone
    }
  }
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of children) {
      if (mine.has(pid) || !mine.has(p.ppid)) continue;
      mine.add(pid);
      grew = true;
    }
  }
  return [...mine].filter((pid) => children.get(pid)?.comm === "workerd");
}
const peak = { rss_mb: 0, hwm_mb: 0, open_files: 0, maps: 0 };
function sample() {
  for (const pid of workerdPids()) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      peak.rss_mb = Math.max(peak.rss_mb, kb("VmRSS") / 1024);
      peak.hwm_mb = Math.max(peak.hwm_mb, kb("VmHWM") / 1024);
      peak.open_files = Math.max(peak.open_files, readdirSync(`/proc/${pid}/fd`).length);
      peak.maps = Math.max(peak.maps, readFileSync(`/proc/${pid}/maps`, "utf8").split("\n").length - 1);
    } catch {
      // exited
    }
  }
}

// ---- bare route ----------------------------------------------------------------------------------------------------
async function health(url) {
  let n = 0;
  let errors = 0;
  const end = performance.now() + HEALTH_SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: HEALTH_CLIENTS }, async () => {
      while (performance.now() < end) {
        const r = await fetch(`${url}/health`);
        await r.arrayBuffer();
        if (r.status === 200) n++;
        else errors++;
      }
    }),
  );
  return { rps: n / ((performance.now() - t0) / 1000), errors };
}

// ---- the run -------------------------------------------------------------------------------------------------------
const gw = DIRECT ? null : await startFakeGorush({ maxNotification: 100, sync: true });
const fcm = DIRECT ? await startFakeFcm() : null;
/** Every push received by the fake provider, as {token, at}, in arrival order. */
const received = () => (DIRECT ? fcm.received.map((r) => ({ token: r.message.token, at: r.at })) : gw.received);
const providerVars = DIRECT ? directProviderVars(fcm) : { GORUSH_URL: gw.url, GORUSH_SYNC: "on" };
const tmp = mkdtempSync(path.join(os.tmpdir(), "eo-bench-fanout-"));
const sqlFile = path.join(tmp, "fleet.sql");
const tSeed = performance.now();
writeFileSync(sqlFile, fleetSql());
const w = await startWorker({
  vars: { ...providerVars, ...settings },
  devtools: false,
  timeoutMs: 300_000,
  beforeStart: (persist, env) => {
    persistDir = persist;
    const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "wrangler"), ["d1", "execute", "DB", "--local", "--persist-to", persist, "--file", sqlFile], {
      cwd: ROOT,
      env,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`seeding failed:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  },
});
const call = client(w.url);
const out = { provider: DIRECT ? "direct (fake FCM, iOS through FCM)" : "gorush (fake gateway, core.sync)", probes: N, settings };
const sampler = setInterval(sample, 1000);
try {
  out.seed_and_start_s = Number(((performance.now() - tSeed) / 1000).toFixed(1));
  console.log(`seeded ${N} + 10 probes and started in ${out.seed_and_start_s} s`);
  const admin = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
  const job = await call("POST", "/api/v1/admin/job", {
    json: { schedule: "R1//P", comment: "fan-out benchmark", task: { test_name: "web_connectivity", arguments: {} }, target: { countries: ["BN"] } },
    token: admin,
  });
  if (job.status !== 200) throw new Error(`create job: ${job.status} ${JSON.stringify(job.body)}`);
  const h1 = await health(w.url);
  console.log(`GET /health (before): ${h1.rps.toFixed(0)} req/s, ${h1.errors} errors`);
  const before = d1Size();

  // Fire the cron and wait for every push.
  const fired = Date.now();
  const cron = await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`);
  if (cron.status !== 200) throw new Error(`cron: ${cron.status} ${await cron.text()}`);
  let last = 0;
  const seen = new Set();
  let counted = 0;
  for (;;) {
    const all = received();
    for (; counted < all.length; counted++) seen.add(all[counted].token);
    if (seen.size !== last) {
      last = seen.size;
      process.stdout.write(`\r${seen.size} probes pushed (${all.length} pushes) after ${((Date.now() - fired) / 1000).toFixed(1)} s   `);
    }
    if (seen.size >= N) break;
    if (Date.now() - fired > DEADLINE_MS) {
      process.exitCode = 1;
      console.error(`\nonly ${seen.size}/${N} probes pushed after ${DEADLINE_MS} ms`);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write("\n");
  // Give late duplicates a chance to show up before counting.
  await new Promise((r) => setTimeout(r, 5000));
  const got = received();
  const firstAt = new Map();
  for (const r of got) if (!firstAt.has(r.token) || firstAt.get(r.token) > r.at) firstAt.set(r.token, r.at);
  const tokens = got.map((r) => r.token);
  const unique = new Set(tokens);
  const expected = new Set(Array.from({ length: N }, (_, i) => tokenOf(i, "BN")));
  out.pushes_received = tokens.length;
  out.unique_tokens = unique.size;
  out.duplicates = tokens.length - unique.size;
  out.lost = [...expected].filter((t) => !unique.has(t)).length;
  out.outside_target = tokens.filter((t) => !expected.has(t)).length;
  out.cron_to_first_push_s = (Math.min(...firstAt.values()) - fired) / 1000;
  out.cron_to_last_probe_pushed_s = (Math.max(...firstAt.values()) - fired) / 1000;
  out.pushes_per_s = Math.round(unique.size / out.cron_to_last_probe_pushed_s);
  if (gw) out.gateway_requests = gw.requests.length;
  const h2 = await health(w.url);
  console.log(`GET /health (after): ${h2.rps.toFixed(0)} req/s, ${h2.errors} errors`);
  out.health_rps_before = Math.round(h1.rps);
  out.health_rps_after = Math.round(h2.rps);
  out.health_rps = Math.round((h1.rps + h2.rps) / 2);
  out.ratio_pushes_to_health = Number((out.pushes_per_s / out.health_rps).toFixed(2));
  // D1 after the run: tasks notified, events written (the WAL is checkpointed into the file by the next read).
  const after = d1Size();
  out.d1_bytes_before = before.pages_bytes;
  out.d1_bytes_after = after.pages_bytes;
  out.d1_bytes_per_probe = Math.round((after.pages_bytes - before.pages_bytes) / N);
  out.d1_wal_bytes_after = after.wal_bytes;
  sample();
  out.workerd_peak_rss_mb = Math.round(peak.rss_mb);
  out.workerd_vm_hwm_mb = Math.round(peak.hwm_mb);
  out.workerd_peak_open_files = peak.open_files;
  out.workerd_peak_maps = peak.maps;
  out.load_average = os.loadavg().map((x) => Number(x.toFixed(1)));
  // Details from the service itself (bounded: a struggling local runtime must not hang the benchmark).
  try {
    const get = (p) => fetch(`${w.url}${p}`, { headers: { authorization: `Bearer ${admin}` }, signal: AbortSignal.timeout(60_000) }).then((r) => r.json());
    const detail = await get(`/api/v1/admin/job/${job.body.id}`);
    out.run = { state: detail.runs[0]?.state, targets: detail.runs[0]?.targets };
    out.task_counts = detail.task_counts;
    out.delivery = detail.delivery;
  } catch (e) {
    out.details = `unavailable: ${e}`;
  }
  console.log(JSON.stringify(out, null, 2));
  if (out.duplicates || out.lost || out.outside_target) {
    console.error("FAIL: pushes lost, duplicated or outside the target");
    process.exitCode = 1;
  }
} finally {
  clearInterval(sampler);
  await w.stop();
  await gw?.stop();
  await fcm?.stop();
}
// wrangler's in-process dev server may keep handles open after dispose.
process.exit(process.exitCode ?? 0);
