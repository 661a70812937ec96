#!/usr/bin/env node
// Console page times against a real `wrangler dev` (workerd + local SQLite D1) holding 10,000 probes.
// The fleet (probes, their register history rows, registration events, a day of push events) is generated as SQL and
// applied with `wrangler d1 execute --local` before the Worker starts. Each page is then requested sequentially by a
// logged-in admin; we record wall time on loopback and the Worker's own Server-Timing (app;dur).
// Campaigns (40, five with 5 runs of tasks: 50,000 + 20,000 tasks, a delivery event per task of the big one's last run)
// are seeded the same way; minions go into the registry's shards through the benchmark-only seed route.
// Usage: node bench/console.mjs [--probes 10000] [--minions 1000] [--requests 30] [--write]
// --write replaces the console section of bench/README.md (between <!-- console:start --> and <!-- console:end -->).
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, SECRETS, startWorker } from "../test/e2e/harness.mjs";
import { arg } from "./lib.mjs";
const PROBES = Number(arg("probes", "10000"));
const REQUESTS = Number(arg("requests", "30"));
const WRITE = process.argv.includes("--write");
const TARGET_MS = 300;

// ---- a plausible fleet -------------------------------------------------------------------------------------------
let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};
const weighted = (pairs) => {
  const total = pairs.reduce((s, [, w]) => s + w, 0);
  let r = rand() * total;
  for (const [v, w] of pairs) {
    r -= w;
    if (r < 0) return v;
  }
  return pairs[pairs.length - 1][0];
};
const COUNTRIES = [
  "US",
  "IT",
  "BR",
  "IN",
  "DE",
  "RU",
  "IR",
  "GR",
  "FR",
  "GB",
  "ID",
  "TR",
  "MX",
  "UA",
  "CN",
  "NG",
  "KE",
  "PK",
  "EG",
  "VE",
  "ES",
  "CA",
  "AR",
  "PH",
  "VN",
].map((c, i) => [c, 40 / (i + 1)]);
const PLATFORMS = [
  ["android", 60],
  ["ios", 25],
  ["linux", 6],
  ["macos", 5],
  ["windows", 4],
];
const NETWORKS = [
  ["wifi", 55],
  ["mobile", 35],
  ["wired", 5],
  [null, 5],
];
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
    const tokenState =
      platform === "linux"
        ? "none"
        : weighted([
            ["valid", 85],
            ["expired", 10],
            ["none", 5],
          ]);
    const token = tokenState === "none" ? null : `tok-${id}`;
    probes.push(
      `(${q(id)},${q(created)},${q(created)},${q(lastSeen)},${q(cc)},${q(asn)},${q(platform)},${q(sw)},${q(ver)},${q(TESTS)},${q(net)},NULL,'en',NULL,NULL,${q(token)},${q(tokenState)},${tokenState === "none" ? "NULL" : q(created)},NULL)`,
    );
    const snap = JSON.stringify({
      probe_cc: cc,
      probe_asn: asn,
      platform,
      software_name: sw,
      software_version: ver,
      network_type: net,
      has_push_token: !!token,
    });
    updates.push(`(${q(id)},${q(created)},'register',${q(snap)},'[]')`);
    events.push(`(${q(created)},'probe.registered',${q(`probe:${id}`)},${q(id)},${q(JSON.stringify({ probe_cc: cc, probe_asn: asn, platform }))})`);
  }
  // A day of push traffic: 3,000 events over the last 24 h.
  for (let i = 0; i < 3000; i++) {
    const at = new Date(now - Math.floor(rand() * day)).toISOString();
    const type = weighted([
      ["push.sent", 85],
      ["push.failed", 5],
      ["push.retry", 10],
    ]);
    const id = ids[Math.floor(rand() * ids.length)];
    events.push(`(${q(at)},${q(type)},'system',${q(id)},'{}')`);
  }
  // Campaigns: 40 of them in every state; 5 with runs and tasks. The big one reached the whole fleet 5 times
  // (5 × 10,000 tasks) and logged a delivery event per task; four smaller ones 5 runs × 1,000 probes.
  const jobs = [];
  const runs = [];
  const tasks = [];
  const jobIds = [];
  const STATES = ["active", "active", "active", "paused", "done", "deleted"];
  for (let j = 0; j < 40; j++) {
    const id = uuid();
    jobIds.push(id);
    const state = j < 5 ? "active" : STATES[j % STATES.length];
    const created = new Date(now - (40 - j) * 3_600_000).toISOString();
    const withRuns = j < 5;
    const target =
      j === 0
        ? '{"countries":[],"platforms":[],"asns":[],"network_types":[],"software_names":[],"supported_tests":[]}'
        : `{"countries":["${COUNTRIES[j % COUNTRIES.length][0]}"],"platforms":[],"asns":[],"network_types":[],"software_names":[],"supported_tests":[]}`;
    const next = state === "active" || state === "paused" ? new Date(Math.ceil(now / day) * day + (j % 24) * 3_600_000).toISOString() : null;
    jobs.push(
      `(${q(id)},${q(`bench campaign ${j}`)},'R/2026-01-01T00:00:00Z/P1D','iso','2026-01-01T00:00:00.000Z',0,'task','web_connectivity','{}',NULL,NULL,${q(target)},${q(state)},NULL,900,86400,${withRuns ? 5 : 0},${q(next)},NULL,${q(created)},'admin',${q(created)})`,
    );
    if (!withRuns) continue;
    const reach = j === 0 ? ids.length : 1000;
    for (let k = 0; k < 5; k++) {
      const at = now - (5 - k) * day;
      const runId = `${id}:${at}`;
      const iso = new Date(at).toISOString();
      runs.push(`(${q(runId)},${q(id)},${k + 1},${q(iso)},${q(iso)},'dispatched',${reach},0,${q(iso)})`);
      for (let i = 0; i < reach; i++) {
        const probe = ids[(i * 7 + j) % ids.length];
        const st =
          k === 4
            ? weighted([
                ["notified", 50],
                ["accepted", 20],
                ["done", 25],
                ["failed", 5],
              ])
            : weighted([
                ["done", 70],
                ["expired", 20],
                ["rejected", 5],
                ["failed", 5],
              ]);
        tasks.push(
          `(${q(uuid())},${q(id)},${q(runId)},${q(probe)},'web_connectivity','{}',${q(st)},${q(iso)},${q(iso)},${q(new Date(at + day).toISOString())})`,
        );
        if (j === 0 && k === 4) {
          const type =
            st === "failed"
              ? "push.failed"
              : weighted([
                  ["push.sent", 90],
                  ["push.retry", 5],
                  ["push.deferred", 5],
                ]);
          events.push(
            `(${q(iso)},${q(type)},'system',${q(probe)},${q(JSON.stringify({ provider: "gorush", status: type === "push.failed" ? 400 : 200, attempt: 1 }))},${q(id)})`,
          );
        }
      }
    }
  }
  const chunks = (rows, head) => {
    const out = [];
    for (let i = 0; i < rows.length; i += 100) out.push(`${head} VALUES\n${rows.slice(i, i + 100).join(",\n")};`); // D1 caps a statement at 100 KB
    return out.join("\n");
  };
  const probeEvents = events.filter((e) => !e.endsWith(`,${q(jobIds[0])})`));
  const jobEvents = events.filter((e) => e.endsWith(`,${q(jobIds[0])})`));
  return {
    ids,
    jobIds,
    counts: { tasks: tasks.length, events: events.length },
    sql: [
      chunks(
        probes,
        "INSERT INTO probes (id, created_at, updated_at, last_seen_at, probe_cc, probe_asn, platform, software_name, software_version, supported_tests, network_type, available_bandwidth, language, probe_family, probe_id, push_token, push_token_state, push_token_updated_at, password_hash)",
      ),
      chunks(updates, "INSERT INTO probe_updates (probe_id, at, update_type, snapshot, changed)"),
      chunks(probeEvents, "INSERT INTO events (at, type, actor, probe_id, data)"),
      chunks(jobEvents, "INSERT INTO events (at, type, actor, probe_id, data, job_id)"),
      chunks(
        jobs,
        "INSERT INTO jobs (id, comment, schedule, schedule_kind, start_at, delay_s, kind, test_name, arguments, alert_message, alert_extra, target, state, rollout_per_minute, starting_deadline_s, task_timeout_s, times_run, next_run_at, last_run_at, created_at, created_by, updated_at)",
      ),
      chunks(runs, "INSERT INTO job_runs (id, job_id, run_no, scheduled_at, fired_at, state, targets, missed_count, finished_at)"),
      chunks(tasks, "INSERT INTO tasks (id, job_id, run_id, probe_id, test_name, arguments, state, created_at, updated_at, expires_at)"),
      "ANALYZE;",
    ].join("\n"),
  };
}

// ---- a logged-in browser, by hand --------------------------------------------------------------------------------
async function consoleLogin(url) {
  const page = await fetch(`${url}/console/login`);
  const nonce = page.headers
    .getSetCookie()
    .find((c) => c.startsWith("__Secure-eo_login="))
    ?.split(";")[0];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())[1];
  const r = await fetch(`${url}/console/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: nonce, origin: url },
    body: new URLSearchParams({ username: "admin", password: SECRETS.ADMIN_PASSWORD, _csrf: csrf }),
  });
  if (r.status !== 303) throw new Error(`console login failed: ${r.status}`);
  return r.headers
    .getSetCookie()
    .find((c) => c.startsWith("__Secure-eo_session="))
    ?.split(";")[0];
}

/** `form`: a POST body (a console form, with its CSRF token) instead of a GET. */
async function measure(url, cookie, name, p, form) {
  const wall = [];
  const app = [];
  let bytes = 0;
  const req = () =>
    fetch(
      `${url}${p}`,
      form
        ? {
            method: "POST",
            headers: { cookie, origin: url, "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams(form),
            redirect: "manual",
          }
        : { headers: { cookie }, redirect: "manual" },
    );
  for (let i = 0; i < 3; i++) await (await req()).text(); // warm
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const res = await req();
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
  const row = { name, path: form ? `POST ${p}` : p, p50: pct(wall, 0.5), p99: pct(wall, 0.99), app50: pct(app, 0.5), app99: pct(app, 0.99), kb: bytes / 1024 };
  console.log(
    `${name.padEnd(34)} wall p50 ${row.p50.toFixed(1).padStart(6)} ms  p99 ${row.p99.toFixed(1).padStart(6)} ms   server p50 ${String(row.app50).padStart(3)} ms  p99 ${String(row.app99).padStart(3)} ms  ${row.kb.toFixed(0)} KiB`,
  );
  return row;
}

const loadAtStart = os.loadavg()[0];
const now = Date.now();
const { ids, jobIds, counts, sql } = fleetSql(PROBES, now);
const MINIONS = Number(arg("minions", "1000"));
const tmp = mkdtempSync(path.join(os.tmpdir(), "eo-bench-console-"));
const sqlFile = path.join(tmp, "fleet.sql");
writeFileSync(sqlFile, sql);
const t0 = performance.now();
const w = await startWorker({
  vars: { MINIONS_BENCH_SEED: "1" },
  beforeStart: (persist, env) => {
    const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "wrangler"), ["d1", "execute", "DB", "--local", "--persist-to", persist, "--file", sqlFile], {
      cwd: ROOT,
      env,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`seeding failed:\n${r.stdout}\n${r.stderr}`);
  },
});
console.log(
  `seeded ${PROBES} probes (+ ${PROBES} history rows), 40 campaigns with ${counts.tasks} tasks, ${counts.events} events, and started in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
try {
  const cookie = await consoleLogin(w.url);
  // Minions straight into the registry's shards through the benchmark-only route (bench/minions.mjs does the same).
  const token = (
    await (
      await fetch(`${w.url}/api/v1/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: SECRETS.ADMIN_PASSWORD }),
      })
    ).json()
  ).token;
  const seeded = await fetch(`${w.url}/minions/_bench/seed`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ count: MINIONS }),
  });
  if (seeded.status !== 200) throw new Error(`minion seeding failed: ${seeded.status} ${await seeded.text()}`);
  const firstMinion = (await (await fetch(`${w.url}/minions`, { headers: { authorization: `Bearer ${token}` } })).json())[0].id;
  const newForm = await (await fetch(`${w.url}/console/campaigns/new`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(newForm)[1];
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
    ["Campaigns (40)", "/console/campaigns"],
    ["New campaign form (target pickers)", "/console/campaigns/new"],
    ["Campaign detail (5 runs × 10,000 tasks)", `/console/campaigns/${jobIds[0]}`],
    ["Campaign detail, delivery log page 2", null],
    ["Campaign detail (5 runs × 1,000 tasks)", `/console/campaigns/${jobIds[1]}`],
    [`Minions (${MINIONS.toLocaleString("en-US")}, first 200)`, "/console/minions"],
    ["Minion detail", `/console/minions/${firstMinion}`],
  ];
  const posts = [
    [
      "New campaign Preview (dry run, whole fleet)",
      "/console/campaigns/new",
      { _csrf: csrf, intent: "preview", kind: "task", comment: "bench", schedule: "*/15 * * * *", test_name: "web_connectivity" },
    ],
  ];
  const detail = await (await fetch(`${w.url}/console/campaigns/${jobIds[0]}`, { headers: { cookie } })).text();
  pages[pages.findIndex((x) => x[1] === null && x[0].startsWith("Campaign"))][1] = /href="([^"]+)" rel="next">Older pushes/
    .exec(detail)[1]
    .replace(/&amp;/g, "&");
  // Page 2 follows the real "Next page" link of page 1.
  const first = await (await fetch(`${w.url}/console/probes`, { headers: { cookie } })).text();
  pages[4][1] = /href="([^"]+)" rel="next"/.exec(first)[1].replace(/&amp;/g, "&");
  const rows = [];
  for (const [name, p] of pages) rows.push(await measure(w.url, cookie, name, p));
  for (const [name, p, form] of posts) rows.push(await measure(w.url, cookie, name, p, form));

  const worst = Math.max(...rows.map((r) => r.p99));
  console.log(worst < TARGET_MS ? `all pages under ${TARGET_MS} ms at p99 (worst ${worst.toFixed(1)} ms)` : `OVER TARGET: worst p99 ${worst.toFixed(1)} ms`);

  if (WRITE) {
    const file = path.join(ROOT, "bench", "README.md");
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      text =
        "# Benchmarks\n\nEvery figure here was measured against a real local `wrangler dev` (workerd + SQLite-backed D1) on the project's 2-core machine; the load generator shares those cores.\n";
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
      `Command: \`node bench/console.mjs --probes ${PROBES} --minions ${MINIONS} --requests ${REQUESTS} --write\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, Node ${process.version}, 1-minute load average ${loadAtStart.toFixed(1)} at start: the machine is shared, so p99 (the slowest of ${REQUESTS}) carries other jobs' noise).`,
      `${PROBES.toLocaleString("en-US")} probes with a register history row each, 40 campaigns in every state (five with 5 runs: one reaching the whole fleet, ${(5 * PROBES).toLocaleString("en-US")} tasks, four reaching 1,000 probes; ${counts.tasks.toLocaleString("en-US")} tasks in all), ${counts.events.toLocaleString("en-US")} events (registrations, a day of push outcomes, a delivery event per task of the big campaign's last run), seeded with \`wrangler d1 execute --local --file\` before \`wrangler dev\` starts. Each page is requested ${REQUESTS} times, one at a time, by a logged-in admin after 3 warm-up requests; "wall" is the full HTTP round trip on loopback (including wrangler dev's proxy), "server" is the Worker's own \`Server-Timing: app;dur\` (D1 and rendering as the isolate's clock sees it; that clock advances across I/O). ${MINIONS.toLocaleString("en-US")} minions are written into the registry's shards through the benchmark-only seed route. "New campaign Preview" is the form's POST: the API's dry run in-process, the schedule preview and the target pickers.`,
      "",
      table,
      "",
      `Target: every page under ${TARGET_MS} ms with 10,000 probes. Worst p99 in this run: ${worst.toFixed(1)} ms. The overview is one D1 batch: counts by country and platform come from their indexes, the 24 h / 7 d / valid-token totals are index range counts, registrations per day read only the last 30 days of the created-at index, push outcomes read the last 24 h of the events' time index; only the network-type breakdown scans the table. Probe lists are keyset-paginated on (created_at, id) and skip the per-country breakdown the API list also returns. The campaigns list is two statements (the 200 newest jobs, their task counts by state from the (job_id, state) index). A campaign's detail page counts its tasks by state (covering index) and by run and state for the latest 30 runs from the (job_id, run_id, state) covering index (migration 0002; before it, a row read per task cost 94 ms at p50 for 50,000 tasks); its delivery log is keyset-paginated on the job's event index. The form's target pickers are one batch of group-bys (supported tests unnest each probe's JSON list: a scan). The minions page reads the fleet object and the 16 shards in parallel and pages the list in memory.`,
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
