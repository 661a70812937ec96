#!/usr/bin/env node
// Campaign fan-out benchmark: one run to N registered probes (default 10,000) through the fake gorush gateway,
// against a real `wrangler dev` (workerd, local D1, SQLite-backed Durable Objects with real alarms).
// Measures the time from the cron firing to the last push received at the gateway, and pushes per second, and
// checks that no push was lost or duplicated.
//
//   node bench/campaign-fanout.mjs                 # 10,000 probes, one page every 12 s
//   PROBES=1000 node bench/campaign-fanout.mjs     # quicker
//   PROVIDER=direct node bench/campaign-fanout.mjs # straight to fake FCM (Android, and iOS with FCM_IOS) instead of gorush
import { startWorker, client, SECRETS } from "../test/e2e/harness.mjs";
import { directProviderVars } from "../tools/fake-common.mjs";
import { startFakeFcm } from "../tools/fake-fcm.mjs";
import { startFakeGorush } from "../tools/fake-gorush.mjs";

const N = Number(process.env.PROBES ?? 10_000);
const REGISTER_CONCURRENCY = Number(process.env.REGISTER_CONCURRENCY ?? 16);
const DEADLINE_MS = Number(process.env.DEADLINE_MS ?? 8 * 60_000);

const DIRECT = process.env.PROVIDER === "direct";
const platformOf = (i) => (i % 3 === 0 ? "ios" : "android");
// FCM and gorush tokens are opaque strings (iOS apps registered with Firebase have FCM tokens too).
const tokenOf = (i, cc) => `bench-${cc}-${i}`;
// gorush as the service expects it: core.sync on (docs/push.md).
const gw = DIRECT ? null : await startFakeGorush({ maxNotification: 100, sync: true });
const fcm = DIRECT ? await startFakeFcm() : null;
/** Every push received by whichever fake provider(s), as {token, at}, in arrival order per provider. */
const received = () => (DIRECT ? fcm.received.map((r) => ({ token: r.message.token, at: r.at })) : gw.received);
const providerVars = DIRECT ? directProviderVars(fcm) : { GORUSH_URL: gw.url, GORUSH_SYNC: "on" };
// One page of probes every FANOUT_PAGE_INTERVAL_MS: the local runtime keeps every live probe object's SQLite files
// open in one process and fails (SQLITE_NOMEM) beyond ~3,000 at once (bench/README.md "Campaign fan-out").
const PAGE_INTERVAL_MS = process.env.FANOUT_PAGE_INTERVAL_MS ?? "12000";
const w = await startWorker({
  vars: { ...providerVars, FANOUT_PAGE_INTERVAL_MS: PAGE_INTERVAL_MS },
  timeoutMs: 120_000,
  logFile: process.env.BENCH_LOG || null,
});
const call = client(w.url);
const out = {};
try {
  // 1. Seed: N probes in one country (plus a few elsewhere that must not be pushed), through the public API.
  const t0 = Date.now();
  let next = 0;
  const body = (i, cc) => ({
    probe_cc: cc,
    probe_asn: `AS${64500 + (i % 20)}`,
    platform: platformOf(i),
    software_name: "ooniprobe-android",
    software_version: "3.8.0",
    supported_tests: ["web_connectivity"],
    network_type: "wifi",
    token: tokenOf(i, cc),
  });
  await Promise.all(
    Array.from({ length: REGISTER_CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const r = await call("POST", "/api/v1/register", { json: body(i, "BN") });
        if (r.status !== 200) throw new Error(`register ${i}: ${r.status} ${JSON.stringify(r.body)}`);
      }
    }),
  );
  for (let i = 0; i < 10; i++) await call("POST", "/api/v1/register", { json: body(i, "XX") });
  out.seed_s = (Date.now() - t0) / 1000;
  console.log(`seeded ${N} probes in ${out.seed_s.toFixed(1)} s`);

  const admin = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
  const job = await call("POST", "/api/v1/admin/job", {
    json: { schedule: "R1//P", comment: "fan-out benchmark", task: { test_name: "web_connectivity", arguments: {} }, target: { countries: ["BN"] } },
    token: admin,
  });
  if (job.status !== 200) throw new Error(`create job: ${job.status} ${JSON.stringify(job.body)}`);

  // 2. Fire the cron and wait for every push.
  const fired = Date.now();
  const cron = await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`);
  if (cron.status !== 200) throw new Error(`cron: ${cron.status}`);
  let last = 0;
  const seen = new Set();
  for (;;) {
    // Recounted from scratch: with two providers, pushes arrive in two lists that grow independently.
    const all = received();
    for (const r of all) seen.add(r.token);
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
    await new Promise((r) => setTimeout(r, 250));
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
  out.provider = DIRECT ? "direct (fake FCM, iOS included)" : "gorush (fake gateway)";
  out.probes = N;
  out.pushes_received = tokens.length;
  out.unique_tokens = unique.size;
  out.duplicates = tokens.length - unique.size;
  out.lost = [...expected].filter((t) => !unique.has(t)).length;
  out.outside_target = tokens.filter((t) => !expected.has(t)).length;
  out.cron_to_first_push_s = (Math.min(...firstAt.values()) - fired) / 1000;
  out.cron_to_last_probe_pushed_s = (Math.max(...firstAt.values()) - fired) / 1000;
  out.pushes_per_s = Math.round(unique.size / out.cron_to_last_probe_pushed_s);
  const byToken = new Map();
  for (const r of got) byToken.set(r.token, [...(byToken.get(r.token) ?? []), r.at]);
  out.duplicate_gaps_ms = [...byToken.values()]
    .filter((v) => v.length > 1)
    .map((v) => v[1] - v[0])
    .slice(0, 10);
  // When the first copies of duplicated pushes went out (10 s buckets after the cron), and how busy that bucket was.
  const bucket = (t) => Math.floor((t - fired) / 10_000) * 10;
  const dupFirst = {};
  const all10 = {};
  for (const v of byToken.values()) {
    all10[bucket(v[0])] = (all10[bucket(v[0])] ?? 0) + 1;
    if (v.length > 1) dupFirst[bucket(v[0])] = (dupFirst[bucket(v[0])] ?? 0) + 1;
  }
  out.duplicated_first_sends_by_10s = Object.fromEntries(Object.entries(dupFirst).map(([k, n]) => [`${k}s`, `${n}/${all10[k]}`]));
  out.storage_errors_in_worker_log = (w.logs.match(/SQLITE_NOMEM/g) ?? []).length;
  console.log(JSON.stringify(out, null, 2));
  // Details from the service itself (bounded: a struggling local runtime must not hang the benchmark).
  try {
    const q = (p) => fetch(`${w.url}${p}`, { headers: { authorization: `Bearer ${admin}` }, signal: AbortSignal.timeout(30_000) }).then((r) => r.json());
    // Every retry, grouped by its cause (provider, status, error), so a retry storm explains itself.
    const causes = {};
    let retries = 0;
    for (let cursor = null, pages = 0; pages < 100; pages++) {
      const page = await q(`/api/v1/admin/events?job_id=${job.body.id}&type=push.retry&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      for (const e of page.events) {
        const cause = `${e.data.provider} ${e.data.status} ${String(e.data.error ?? "").slice(0, 80)}`;
        causes[cause] = (causes[cause] ?? 0) + 1;
        retries++;
      }
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    const detail = await q(`/api/v1/admin/job/${job.body.id}`);
    console.log(JSON.stringify({ push_retries: retries, retry_causes: causes, run: detail.runs[0], task_counts: detail.task_counts }, null, 2));
  } catch (e) {
    console.log(`(job details unavailable: ${e})`);
  }
  if (out.duplicates || out.lost || out.outside_target) {
    console.error("FAIL: pushes lost, duplicated or outside the target");
    process.exitCode = 1;
  }
} finally {
  await w.stop();
  await gw?.stop();
  await fcm?.stop();
  if (DIRECT)
    console.log(
      JSON.stringify({
        fcm_received: fcm.received.length,
        fcm_access_tokens_minted: fcm.tokenRequests,
        sample: received()
          .slice(0, 3)
          .map((r) => r.token),
      }),
    );
}
