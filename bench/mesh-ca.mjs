#!/usr/bin/env node
// Mesh CA throughput against wrangler's dev server (workerd + local SQLite D1), devtools inspector off:
// new enrolments (P-256 and P-521 requests, each a fresh key), renewals (same key again) and an enrolment refused
// as a bad request, next to a bare GET /health in the same run.
// Usage: node bench/mesh-ca.mjs [--seconds 6] [--concurrency 8] [--write]
// --write replaces the "Mesh CA enrolment" section of bench/README.md with the figures.
import "reflect-metadata";
import os from "node:os";
import * as x509 from "@peculiar/x509";
import { client, SECRETS, startWorker } from "../test/e2e/harness.mjs";
import { arg, commandLine, col, devVars, measure as measureRoute, table as tableOf, writeSection } from "./lib.mjs";

const SECONDS = Number(arg("seconds", "6"));
const CONCURRENCY = Number(arg("concurrency", "8"));
const WRITE = process.argv.includes("--write");
const { MESH_CA_KEY } = devVars(/^MESH_CA_KEY$/);

/** A request shaped as Ifrit's Go client makes it (all Localities in one RDN). */
async function csr(curve, i) {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"]);
  const host = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ L: [`${host}:8000`, `${host}:8001`] }],
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "bench.local" }])],
  });
  return new Uint8Array(req.rawData);
}

const measure = (name, op, expect = 200) => measureRoute(name, op, { seconds: SECONDS, concurrency: CONCURRENCY, ok: (r) => r.status === expect });

// Requests are made before the clock starts: each enrolment needs a key the group has not seen.
const POOL = { "P-256": 6000, "P-521": 2000 };
console.log("making certificate requests...");
const pools = {};
for (const [curve, n] of Object.entries(POOL)) {
  pools[curve] = [];
  for (let i = 0; i < n; i++) pools[curve].push(await csr(curve, i + (curve === "P-521" ? 100_000 : 0)));
}
const renewals = Array.from({ length: CONCURRENCY }, (_, i) => pools["P-256"][pools["P-256"].length - 1 - i]);

const loadBefore = os.loadavg()[0];
const w = await startWorker({ devtools: false, vars: { MESH_CA_KEY } });
const call = client(w.url);
const TEXT = { "content-type": "text" };
let rows;
try {
  const login = await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } });
  const g = await call("POST", "/api/v1/admin/mesh/groups", { json: { name: "bench" }, token: login.body.token });
  if (g.status !== 201) throw new Error(`group: ${g.status} ${JSON.stringify(g.body)}`);
  for (let i = 0; i < 50; i++) await call("GET", "/health");
  // Untimed: the renewing members enrol, and a few enrolments warm the isolate (key import, CA certificate, D1).
  for (const der of renewals) await call("POST", "/mesh/bench/certificateRequest", { raw: der, headers: TEXT });
  let next256 = 0;
  let next521 = 0;
  const take = (curve) => {
    const pool = pools[curve];
    const i = curve === "P-256" ? next256++ : next521++;
    if (i >= pool.length - CONCURRENCY) throw new Error(`request pool of ${curve} exhausted: raise POOL`);
    return pool[i];
  };
  for (let i = 0; i < 20; i++) await call("POST", "/mesh/bench/certificateRequest", { raw: take("P-256"), headers: TEXT });

  rows = [];
  rows.push(await measure("GET /health (bare, first)", () => call("GET", "/health")));
  rows.push(
    await measure("POST certificateRequest (new member, P-256)", () => call("POST", "/mesh/bench/certificateRequest", { raw: take("P-256"), headers: TEXT })),
  );
  rows.push(
    await measure("POST certificateRequest (new member, P-521)", () => call("POST", "/mesh/bench/certificateRequest", { raw: take("P-521"), headers: TEXT })),
  );
  rows.push(
    await measure("POST certificateRequest (renewal, same key)", (wk) => call("POST", "/mesh/bench/certificateRequest", { raw: renewals[wk], headers: TEXT })),
  );
  rows.push(
    await measure("POST certificateRequest (bad request, 400)", () => call("POST", "/mesh/bench/certificateRequest", { raw: "not a csr", headers: TEXT }), 400),
  );
  rows.push(await measure("GET /health (bare, last)", () => call("GET", "/health")));
  const detail = await call("GET", "/api/v1/admin/mesh/groups", { token: login.body.token });
  console.log(`members in the group after the run: ${detail.body.groups[0].members}`);
} finally {
  await w.stop();
}

const loadAfter = os.loadavg()[0];
const table = tableOf(rows, [col.route, col.rps(), col.vsBare, col.p50, col.p99, col.errors]);
console.log(`\n${table}`);

if (WRITE) {
  const section = [
    "<!-- mesh-ca:start -->",
    "## Mesh CA enrolment",
    "",
    commandLine(`node bench/mesh-ca.mjs --seconds ${SECONDS} --concurrency ${CONCURRENCY} --write`),
    `wrangler's dev server with the devtools inspector off (\`test/e2e/harness.mjs\`, as the registry benchmark), ${CONCURRENCY} concurrent HTTP/1.1 clients with keep-alive, ${SECONDS} s per route, one open group with the default 10 rings and 10 boot nodes. Every new-member request carries a key made before timing (Ifrit's shape: two Localities in one RDN, a DNS name), so each one is a real enrolment: parse, verify the request's ECDSA signature, sign a P-256 certificate, and one D1 batch (member, certificate, event, and the boot nodes' certificates for KnownCerts). A renewal is the same work for a key already admitted; the bad request is refused at parsing. The bare route is measured first and last, and percentages are against their mean.`,
    "",
    table,
    "",
    `One-minute load average ${loadBefore.toFixed(1)} before the run and ${loadAfter.toFixed(1)} after it, on ${os.cpus().length} cores: other engineers' test runs shared the machine, so the absolute figures are low and the ratios are what carries over. An enrolment costs what the certificate work costs (ASN.1 parsing and encoding in @peculiar/x509, two ECDSA operations: the request's signature checked, the certificate signed) plus two D1 round trips (the group and the key's member; then the write batch with the KnownCerts read). The refused request is turned away while parsing, before any D1 read: the price of the route alone.`,
    "<!-- mesh-ca:end -->",
  ].join("\n");
  writeSection("mesh-ca", section);
}
