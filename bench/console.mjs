#!/usr/bin/env node
// Console page times against a real `wrangler dev` (workerd + local SQLite D1) holding 10,000 probes.
// The fleet (probes, their register history rows, registration events, a day of push events) is generated as SQL and
// applied with `wrangler d1 execute --local` before the Worker starts. Each page is then requested sequentially by a
// logged-in admin; we record wall time on loopback and the Worker's own Server-Timing (app;dur).
// Usage: node bench/console.mjs [--probes 10000] [--requests 30] [--write]
// --write replaces the console section of bench/README.md (between <!-- console:start --> and <!-- console:end -->).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, SECRETS, startWorker } from "../test/e2e/harness.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const PROBES = Number(arg("probes", "10000"));
const REQUESTS = Number(arg("requests", "30"));
const WRITE = process.argv.includes("--write");
const TARGET_MS = 300;

// ---- a plausible fleet -------------------------------------------------------------------------------------------
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const weighted = (pairs) => {
  const total = pairs.reduce((s, [, w]) => s + w, 0);
  let r = rand() * total;
  for (const [v, w] of pairs) if ((r -= w) < 0) return v;
  return pairs[pairs.length - 1][0];
};
const COUNTRIES = ["US", "IT", "BR", "IN", "DE", "RU", "IR", "GR", "FR", "GB", "ID", "TR", "MX", "UA", "CN", "NG", "KE", "PK", "EG", "VE", "ES", "CA", "AR", "PH", "VN"].map(
  (c, i) => [c, 40 / (i + 1)],
);
const PLATFORMS = [["android", 60], ["ios", 25], ["linux", 6], ["macos", 5], ["windows", 4]];
const NETWORKS = [["wifi", 55], ["mobile", 35], ["wired", 5], [null, 5]];
const TESTS = '["web_connectivity","http_invalid_request_line","http_header_field_manipulation"]';
const uuid = () => crypto.randomUUID();
const q = (v) => (v === null ? "NULL" : `'${String(v).replace(/'/g, "''")}'`);

function fleetSql(n, now) {
  const day = 86_400_000;
  const probes = [];
  const updates = [];
  const events = [];
  const ids = [];
  for (let i = 0; i < n; i++) {
    const id = uuid();
    ids.push(id);
    const created = new Date(now - Math.floor(rand() * 90 * day)).toISOString();
    const lastSeen = new Date(Math.max(Date.parse(created), now - Math.floor(rand() ** 2 * 60 * day))).toISOString();
    const cc = weighted(COUNTRIES);
    const platform = weighted(PLATFORMS);
    const net = weighted(NETWORKS);
    const asn = `AS${1000 + Math.floor(rand() * 400)}`;
    const sw = platform === "linux" ? "miniooni" : `ooniprobe-${platform}`;
    const ver = `3.${Math.floor(rand() * 10)}.${Math.floor(rand() * 5)}`;
    const tokenState = platform === "linux" ? "none" : weighted([["valid", 85], ["expired", 10], ["none", 5]]);
    const token = tokenState === "none" ? null : `tok-${id}`;
    probes.push(
      `(${q(id)},${q(created)},${q(created)},${q(lastSeen)},${q(cc)},${q(asn)},${q(platform)},${q(sw)},${q(ver)},${q(TESTS)},${q(net)},NULL,'en',NULL,NULL,${q(token)},${q(tokenState)},${tokenState === "none" ? "NULL" : q(created)},NULL)`,
    );
    const snap = JSON.stringify({ probe_cc: cc, probe_asn: asn, platform, software_name: sw, software_version: ver, network_type: net, has_push_token: !!token });
    updates.push(`(${q(id)},${q(created)},'register',${q(snap)},'[]')`);
    events.push(`(${q(created)},'probe.registered',${q(`probe:${id}`)},${q(id)},${q(JSON.stringify({ probe_cc: cc, probe_asn: asn, platform }))})`);
  }
  // A day of push traffic: 3,000 events over the last 24 h.
  for (let i = 0; i < 3000; i++) {
    const at = new Date(now - Math.floor(rand() * day)).toISOString();
    const type = weighted([["push.sent", 85], ["push.failed", 5], ["push.retry", 10]]);
    const id = ids[Math.floor(rand() * ids.length)];
    events.push(`(${q(at)},${q(type)},'system',${q(id)},'{}')`);
  }
  const chunks = (rows, head) => {
    const out = [];
    for (let i = 0; i < rows.length; i += 100) out.push(`${head} VALUES\n${rows.slice(i, i + 100).join(",\n")};`); // D1 caps a statement at 100 KB
    return out.join("\n");
  };
  return {
    ids,
    sql: [
      chunks(
        probes,
        "INSERT INTO probes (id, created_at, updated_at, last_seen_at, probe_cc, probe_asn, platform, software_name, software_version, supported_tests, network_type, available_bandwidth, language, probe_family, probe_id, push_token, push_token_state, push_token_updated_at, password_hash)",
      ),
      chunks(updates, "INSERT INTO probe_updates (probe_id, at, update_type, snapshot, changed)"),
      chunks(events, "INSERT INTO events (at, type, actor, probe_id, data)"),
      "ANALYZE;",
    ].join("\n"),
  };
}

// ---- a logged-in browser, by hand --------------------------------------------------------------------------------
async function consoleLogin(url) {
  const page = await fetch(`${url}/console/login`);
  const nonce = page.headers.getSetCookie().find((c) => c.startsWith("__Secure-eo_login="))?.split(";")[0];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())[1];
  const r = await fetch(`${url}/console/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: nonce, origin: url },
    body: new URLSearchParams({ username: "admin", password: SECRETS.ADMIN_PASSWORD, _csrf: csrf }),
  });
  if (r.status !== 303) throw new Error(`console login failed: ${r.status}`);
  return r.headers.getSetCookie().find((c) => c.startsWith("__Secure-eo_session="))?.split(";")[0];
}

async function measure(url, cookie, name, p) {
  const wall = [];
  const app = [];
  let bytes = 0;
  for (let i = 0; i < 3; i++) await (await fetch(`${url}${p}`, { headers: { cookie } })).text(); // warm
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}${p}`, { headers: { cookie }, redirect: "manual" });
    const body = await res.text();
    wall.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${p}: ${res.status} ${body.slice(0, 300)}`);
    bytes = body.length;
    const m = /app;dur=(\d+(?:\.\d+)?)/.exec(res.headers.get("server-timing") ?? "");
    if (m) app.push(Number(m[1]));
  }
  const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * s.length))];
  };
  const row = { name, path: p, p50: pct(wall, 0.5), p99: pct(wall, 0.99), app50: pct(app, 0.5), app99: pct(app, 0.99), kb: bytes / 1024 };
  console.log(
    `${name.padEnd(34)} wall p50 ${row.p50.toFixed(1).padStart(6)} ms  p99 ${row.p99.toFixed(1).padStart(6)} ms   server p50 ${String(row.app50).padStart(3)} ms  p99 ${String(row.app99).padStart(3)} ms  ${row.kb.toFixed(0)} KiB`,
  );
  return row;
}

const loadAtStart = os.loadavg()[0];
const now = Date.now();
const { ids, sql } = fleetSql(PROBES, now);
const tmp = mkdtempSync(path.join(os.tmpdir(), "eo-bench-console-"));
const sqlFile = path.join(tmp, "fleet.sql");
writeFileSync(sqlFile, sql);
const t0 = performance.now();
const w = await startWorker({
  beforeStart: (persist, env) => {
    const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "wrangler"), ["d1", "execute", "DB", "--local", "--persist-to", persist, "--file", sqlFile], {
      cwd: ROOT,
      env,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`seeding failed:\n${r.stdout}\n${r.stderr}`);
  },
});
console.log(`seeded ${PROBES} probes (+ ${PROBES} history rows, ${PROBES + 3000} events) and started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
try {
  const cookie = await consoleLogin(w.url);
  const pages = [
    ["Overview", "/console"],
    ["Probes (first page, 50)", "/console/probes"],
    ["Probes filtered (IT, android)", "/console/probes?country=IT&platform=android"],
    ["Probes filtered (seen 24 h, valid token)", "/console/probes?seen=24h&token_state=valid&limit=100"],
    ["Probes, page 2 (cursor)", null],
    ["Probe detail", `/console/probes/${ids[Math.floor(ids.length / 2)]}`],
    ["Events (latest 50)", "/console/events"],
    ["Events filtered (push.*)", "/console/events?type=push.*"],
    ["Operators", "/console/operators"],
  ];
  // Page 2 follows the real "Next page" link of page 1.
  const first = await (await fetch(`${w.url}/console/probes`, { headers: { cookie } })).text();
  pages[4][1] = /href="([^"]+)" rel="next"/.exec(first)[1].replace(/&amp;/g, "&");
  const rows = [];
  for (const [name, p] of pages) rows.push(await measure(w.url, cookie, name, p));

  const worst = Math.max(...rows.map((r) => r.p99));
  console.log(worst < TARGET_MS ? `all pages under ${TARGET_MS} ms at p99 (worst ${worst.toFixed(1)} ms)` : `OVER TARGET: worst p99 ${worst.toFixed(1)} ms`);

  if (WRITE) {
    const file = path.join(ROOT, "bench", "README.md");
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      text = "# Benchmarks\n\nEvery figure here was measured against a real local `wrangler dev` (workerd + SQLite-backed D1) on the project's 2-core machine; the load generator shares those cores.\n";
    }
    const table = [
      "| page | path | wall p50 | wall p99 | server p50 | server p99 | HTML |",
      "|---|---|---:|---:|---:|---:|---:|",
      ...rows.map(
        (r) =>
          `| ${r.name} | \`${r.path.length > 48 ? `${r.path.slice(0, 45)}…` : r.path}\` | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.app50} ms | ${r.app99} ms | ${r.kb.toFixed(0)} KiB |`,
      ),
    ].join("\n");
    const section = [
      "<!-- console:start -->",
      "## Console",
      "",
      `Command: \`node bench/console.mjs --probes ${PROBES} --requests ${REQUESTS} --write\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version}, 1-minute load average ${loadAtStart.toFixed(1)} at start: the machine is shared, so p99 (the slowest of ${REQUESTS}) carries other jobs' noise).`,
      `${PROBES.toLocaleString("en-US")} probes with a register history row each, ${(PROBES + 3000).toLocaleString("en-US")} events (registrations and a day of push outcomes), seeded with \`wrangler d1 execute --local --file\` before \`wrangler dev\` starts. Each page is requested ${REQUESTS} times, one at a time, by a logged-in admin after 3 warm-up requests; "wall" is the full HTTP round trip on loopback (including wrangler dev's proxy), "server" is the Worker's own \`Server-Timing: app;dur\` (D1 and rendering as the isolate's clock sees it; that clock advances across I/O).`,
      "",
      table,
      "",
      `Target: every page under ${TARGET_MS} ms with 10,000 probes. Worst p99 in this run: ${worst.toFixed(1)} ms. The overview is one D1 batch: counts by country and platform come from their indexes, the 24 h / 7 d / valid-token totals are index range counts, registrations per day read only the last 30 days of the created-at index, push outcomes read the last 24 h of the events' time index; only the network-type breakdown scans the table. Probe lists are keyset-paginated on (created_at, id) and skip the per-country breakdown the API list also returns.`,
      "<!-- console:end -->",
    ].join("\n");
    const re = /<!-- console:start -->[\s\S]*<!-- console:end -->/;
    text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
    writeFileSync(file, text);
    console.log(`wrote ${file}`);
  }
} finally {
  await w.stop();
  rmSync(tmp, { recursive: true, force: true });
}
