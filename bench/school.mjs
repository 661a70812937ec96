#!/usr/bin/env node
// School server activation throughput against wrangler's dev server with the devtools inspector off (the
// Worker's own cost, as bench/registry.mjs measures it): POST /activation for leased machines (a read and a
// last-seen write per ask), for unknown serials, and the bare GET /health, in the same run.
// Usage: node bench/school.mjs [--seconds 8] [--concurrency 16] [--machines 200] [--write]
// --write replaces the "School activation throughput" section of bench/README.md with the figures.
import os from "node:os";
import { client, SECRETS, startWorker } from "../test/e2e/harness.mjs";
import { arg, col, devVars, measure as measureRoute, table as tableOf, writeSection } from "./lib.mjs";

const SECONDS = Number(arg("seconds", "8"));
const CONCURRENCY = Number(arg("concurrency", "16"));
const MACHINES = Number(arg("machines", "200"));
const WRITE = process.argv.includes("--write");

/** Each op answers whether its answer was right. */
const measure = (name, op) => measureRoute(name, op, { seconds: SECONDS, concurrency: CONCURRENCY, ok: Boolean });

const serialOf = (i) => `SHB${i.toString(16).toUpperCase().padStart(8, "0")}`;

const w = await startWorker({ vars: devVars(/^LEASE_/), devtools: false });
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
  const health = async () => {
    const r = await fetch(`${w.url}/health`);
    await r.text();
    return r.status === 200;
  };
  rows.push(await measure("GET /health (bare route)", health));
  rows.push(await measure("POST /activation (leased machine)", (wk, i) => ask(serialOf((wk * 7919 + i) % MACHINES), (t) => t.startsWith("act01:"))()));
  rows.push(
    await measure("POST /activation (unknown serial)", (wk, i) =>
      ask(`SHU${((wk << 20) + i).toString(16).toUpperCase().padStart(8, "0")}`, (t) => t === "UNKNOWN\n")(),
    ),
  );
  rows.push(await measure("GET /health (bare route, again)", health));
  if (WRITE) {
    const when = new Date().toISOString().slice(0, 16).replace("T", " ");
    const table = tableOf(rows, [col.route, col.rps(), col.p50, col.p99, col.requests, col.errors]);
    const section = `<!-- school:start -->
## School activation throughput

\`node bench/school.mjs ${process.argv.slice(2).join(" ")}\` (${SECONDS} s per route, ${CONCURRENCY} concurrent clients, ${MACHINES} imported machines with stored leases;
wrangler's dev server with the devtools inspector off; ${os.cpus().length} cores shared with other engineers' runs; ${when} UTC).
A leased ask is one D1 batch (the last-seen upsert returning the row, plus the delegation read); an unknown serial is the same
batch. The RSA act01 line and the JWS are served from the row, so no signing happens on these asks.

${table}
<!-- school:end -->`;
    writeSection("school", section);
  }
} finally {
  await w.stop();
}
process.exit(0);
