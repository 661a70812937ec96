#!/usr/bin/env node
// Minion registry benchmark against a real `wrangler dev` (test/e2e/harness.mjs):
//  1. HEAD /minions latency (p50/p99) at 10, 1,000 and 10,000 minions. 10 and 1,000 are real agents with live
//     WebSockets (tools/agent-sim.mjs), polled by their alarms every MONITOR_INTERVAL_MS while we measure. For 10,000,
//     9,000 more minions are written straight into the shards through the benchmark-only route
//     (POST /minions/_bench/seed, enabled by MINIONS_BENCH_SEED=1): the same shard code, without 9,000 more sockets.
//  2. Status changes per second the registry absorbs: (a) one shard write per change, the path an agent's poll
//     takes (checksum compare, bucket rehash, fleet push, D1 event); (b) bulk writes per shard; (c) 1,000 live agents
//     all changing packages at once, timed until every change is in the change feed.
//
//   node bench/minions.mjs [--agents 1000] [--total 10000] [--samples 400]
import { performance } from "node:perf_hooks";
import { StormflashAgent } from "../tools/agent-sim.mjs";
import { client, eventually as until, SECRETS, startWorker } from "../test/e2e/harness.mjs";
import { arg, quantile } from "./lib.mjs";

const AGENTS = Number(arg("agents", "1000"));
const TOTAL = Number(arg("total", "10000"));
const SAMPLES = Number(arg("samples", "400"));
const MONITOR_MS = 15000;

const pct = (xs, p) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    p / 100,
  );
const ms = (x) => x.toFixed(2);

const t0 = Date.now();
const w = await startWorker({ vars: { MINIONS_BENCH_SEED: "1", MONITOR_INTERVAL_MS: String(MONITOR_MS) } });
const call = client(w.url);
const token = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
const results = { head: [], changes: [] };
const agents = [];

async function headLatency(label, n) {
  for (let i = 0; i < 30; i++) await call("HEAD", "/minions", { token });
  const xs = [];
  let count;
  for (let i = 0; i < SAMPLES; i++) {
    const a = performance.now();
    const r = await call("HEAD", "/minions", { token });
    xs.push(performance.now() - a);
    if (r.status !== 200) throw new Error(`HEAD /minions: ${r.status}`);
    count = r.headers.get("x-minion-count");
  }
  // The same at 8 concurrent clients (requests/s).
  const conc = 8;
  const per = Math.ceil(SAMPLES / conc);
  const a = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (let i = 0; i < per; i++) await call("HEAD", "/minions", { token });
    }),
  );
  const rps = (conc * per) / ((performance.now() - a) / 1000);
  const row = { label, minions: Number(count), p50: pct(xs, 50), p99: pct(xs, 99), mean: xs.reduce((s, x) => s + x, 0) / xs.length, rps8: rps };
  if (row.minions !== n) throw new Error(`expected ${n} minions, registry has ${row.minions}`);
  results.head.push(row);
  console.log(`HEAD /minions @ ${label}: p50 ${ms(row.p50)} ms, p99 ${ms(row.p99)} ms, ${rps.toFixed(0)} req/s at 8 concurrent`);
}

const count = async () => Number((await call("HEAD", "/minions", { token })).headers.get("x-minion-count"));

async function connect(n) {
  const batch = 25;
  for (let i = agents.length; i < n; i += batch) {
    const made = await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, async () => {
        const a = await StormflashAgent.register(w.url);
        await a.connect();
        return a;
      }),
    );
    agents.push(...made);
  }
  await until(async () => (await count()) === n, `${n} minions`, 120_000);
}

// wrangler dev answers 503 "restarted mid-request" to a POST in flight when its file watcher fires (other engineers'
// vitest runs write into the shared node_modules here). Seeding is idempotent (sequence numbers), so retry, and count.
let retries = 0;
async function post(b) {
  for (let attempt = 0; ; attempt++) {
    const r = await call("POST", "/minions/_bench/seed", { token, json: b });
    if (r.status !== 503 || attempt >= 5) return r;
    retries++;
    await new Promise((res) => setTimeout(res, 500));
  }
}

async function seed(offset, total, round, single) {
  const chunk = single ? 250 : 1000;
  // Bulk: four requests in flight. Per-change: one request at a time (each drives the 16 shards in parallel); several
  // concurrent multi-second requests of that kind made wrangler dev restart its runtime on this machine.
  const inFlight = single ? 1 : 4;
  const reqs = [];
  for (let o = offset; o < offset + total; o += chunk) reqs.push({ count: Math.min(chunk, offset + total - o), offset: o, round, single });
  const a = performance.now();
  let applied = 0;
  for (let i = 0; i < reqs.length; i += inFlight) {
    const rs = await Promise.all(reqs.slice(i, i + inFlight).map((b) => post(b)));
    for (const r of rs) {
      if (r.status !== 200) throw new Error(`seed: ${r.status} ${JSON.stringify(r.body)}`);
      applied += r.body.applied;
    }
  }
  return { applied, seconds: (performance.now() - a) / 1000 };
}

try {
  await connect(10);
  await headLatency("10 (live sockets)", 10);

  const c0 = performance.now();
  await connect(AGENTS);
  console.log(`connected ${AGENTS} agents in ${((performance.now() - c0) / 1000).toFixed(1)} s`);
  await headLatency(`${AGENTS} (live sockets)`, AGENTS);

  const seeded = TOTAL - AGENTS;
  const s0 = await seed(0, seeded, 0, false);
  console.log(`seeded ${s0.applied} minions in ${s0.seconds.toFixed(1)} s`);
  await headLatency(`${TOTAL} (${AGENTS} live + ${seeded} seeded)`, TOTAL);

  // (a) one shard write per change, as an agent's poll does it
  const n1 = Math.min(3000, seeded);
  const a1 = await seed(0, n1, 1, true);
  results.changes.push({ path: "per-change shard write (agent poll path), 16 shards in parallel", changes: a1.applied, seconds: a1.seconds });
  // (b) bulk
  const a2 = await seed(0, seeded, 2, false);
  results.changes.push({ path: "bulk write per shard (one rehash per touched bucket)", changes: a2.applied, seconds: a2.seconds });
  // (c) live agents: all change packages at once; time until the change feed has them all
  const start = (await fetch(`${w.url}/minions`, { method: "GET", headers: { authorization: `Bearer ${token}` } })).headers.get("x-minions-cursor");
  const l0 = performance.now();
  for (const a of agents) a.installPackage("bench-pkg", "1.0.0");
  const seen = new Set();
  let next = start;
  await until(
    async () => {
      for (;;) {
        const r = await call("GET", `/minions?since=${encodeURIComponent(next)}&limit=1000`, { token });
        for (const c of r.body.changes) if (c.type === "changed") seen.add(c.id);
        next = r.body.next_cursor;
        if (!r.body.more) break;
      }
      return seen.size >= agents.length;
    },
    "every live agent's change in the feed",
    MONITOR_MS * 3,
  );
  const lsec = (performance.now() - l0) / 1000;
  results.changes.push({
    path: `${agents.length} live agents change packages at once, detected by their ${MONITOR_MS / 1000} s polls`,
    changes: seen.size,
    seconds: lsec,
  });
  for (const c of results.changes) console.log(`${c.path}: ${c.changes} changes in ${c.seconds.toFixed(2)} s = ${(c.changes / c.seconds).toFixed(0)}/s`);
} catch (e) {
  console.error(String(e?.stack ?? e));
  const { writeFileSync } = await import("node:fs");
  writeFileSync("/tmp/bench-minions-wrangler.log", w.logs);
  console.error("wrangler dev log: /tmp/bench-minions-wrangler.log");
  process.exitCode = 1;
} finally {
  for (const a of agents) a.close();
  await w.stop();
}

console.log("\n| minions | HEAD /minions p50 | p99 | mean | req/s (8 concurrent) |\n|---|---|---|---|---|");
for (const r of results.head) console.log(`| ${r.label} | ${ms(r.p50)} ms | ${ms(r.p99)} ms | ${ms(r.mean)} ms | ${r.rps8.toFixed(0)} |`);
console.log("\n| path | changes | seconds | changes/s |\n|---|---|---|---|");
for (const c of results.changes) console.log(`| ${c.path} | ${c.changes} | ${c.seconds.toFixed(2)} | ${(c.changes / c.seconds).toFixed(0)} |`);
console.log(`\ntotal run ${((Date.now() - t0) / 1000).toFixed(0)} s; seed requests retried after a dev-server restart: ${retries}`);
