#!/usr/bin/env node
// School server activation throughput against wrangler's dev server with the devtools inspector off (the
// Worker's own cost, as bench/registry.mjs measures it): POST /activation for leased machines (a read and a
// last-seen write per ask), for unknown serials, and the bare GET /health, in the same run.
// Usage: node bench/school.mjs [--seconds 8] [--concurrency 16] [--machines 200] [--write]
// --write replaces the "School activation throughput" section of bench/README.md with the figures.
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { client, ROOT, SECRETS, startWorker } from "../test/e2e/harness.mjs";
import { arg } from "./lib.mjs";

const SECONDS = Number(arg("seconds", "8"));
const CONCURRENCY = Number(arg("concurrency", "16"));
const MACHINES = Number(arg("machines", "200"));
const WRITE = process.argv.includes("--write");

function leaseKeys() {
  const text = readFileSync(path.join(ROOT, ".dev.vars.example"), "utf8");
  return Object.fromEntries([...text.matchAll(/^(LEASE_[A-Z_]+)='(.*)'$/gm)].map((m) => [m[1], m[2]]));
}

async function measure(name, op) {
  const lat = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  const worker = async (w) => {
    let i = 0;
    while (performance.now() < end) {
      const t0 = performance.now();
      const ok = await op(w, i++);
      lat.push(performance.now() - t0);
      if (!ok) errors++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const row = { name, requests: lat.length, errors, rps: lat.length / secs, p50: q(0.5), p99: q(0.99) };
  console.log(`${name.padEnd(40)} ${row.rps.toFixed(0).padStart(6)} req/s  p50 ${row.p50.toFixed(1)} ms  p99 ${row.p99.toFixed(1)} ms  errors ${errors}`);
  return row;
}

const serialOf = (i) => `SHB${i.toString(16).toUpperCase().padStart(8, "0")}`;

const w = await startWorker({ vars: leaseKeys(), devtools: false });
try {
  const call = client(w.url);
  const admin = await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } });
  const token = admin.body.token;
  for (let i = 0; i < MACHINES; i += 90) {
    const machines = Array.from({ length: Math.min(90, MACHINES - i) }, (_, k) => ({ serial: serialOf(i + k), uuid: crypto.randomUUID() }));
    const r = await call("POST", "/api/v1/admin/school/machines", { json: { machines }, token });
    if (r.status !== 200) throw new Error(`import failed: ${r.status} ${JSON.stringify(r.body)}`);
  }
  // First ask signs and stores each lease; the measured asks serve the stored one.
  for (let i = 0; i < MACHINES; i++) await fetch(`${w.url}/activation`, { method: "POST", body: `${serialOf(i)}\n` }).then((r) => r.text());
  const ask = (serial, want) => async () => {
    const r = await fetch(`${w.url}/activation`, { method: "POST", body: `${serial}\n`, headers: { "content-type": "text/plain" } });
    const t = await r.text();
    return r.status === 200 && want(t);
  };
  const rows = [];
  rows.push(await measure("GET /health (bare route)", async () => (await fetch(`${w.url}/health`).then(async (r) => (await r.text(), r.status))) === 200));
  rows.push(await measure("POST /activation (leased machine)", (wk, i) => ask(serialOf((wk * 7919 + i) % MACHINES), (t) => t.startsWith("act01:"))()));
  rows.push(
    await measure("POST /activation (unknown serial)", (wk, i) =>
      ask(`SHU${((wk << 20) + i).toString(16).toUpperCase().padStart(8, "0")}`, (t) => t === "UNKNOWN\n")(),
    ),
  );
  rows.push(
    await measure("GET /health (bare route, again)", async () => (await fetch(`${w.url}/health`).then(async (r) => (await r.text(), r.status))) === 200),
  );
  if (WRITE) {
    const when = new Date().toISOString().slice(0, 16).replace("T", " ");
    const table = [
      "| route | req/s | p50 ms | p99 ms | requests | errors |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...rows.map((r) => `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.requests} | ${r.errors} |`),
    ].join("\n");
    const section = `## School activation throughput

\`node bench/school.mjs ${process.argv.slice(2).join(" ")}\` (${SECONDS} s per route, ${CONCURRENCY} concurrent clients, ${MACHINES} imported machines with stored leases;
wrangler's dev server with the devtools inspector off; ${os.cpus().length} cores shared with other engineers' runs; ${when} UTC).
A leased ask is one D1 batch (the last-seen upsert returning the row, plus the delegation read); an unknown serial is the same
batch. The RSA act01 line and the JWS are served from the row, so no signing happens on these asks.

${table}
`;
    const file = path.join(ROOT, "bench", "README.md");
    const readme = readFileSync(file, "utf8");
    const re = /## School activation throughput\n[\s\S]*?(?=\n## |$)/;
    writeFileSync(file, re.test(readme) ? readme.replace(re, section.trimEnd()) : `${readme.trimEnd()}\n\n${section}`);
    console.log("wrote bench/README.md");
  }
} finally {
  await w.stop();
}
process.exit(0);
