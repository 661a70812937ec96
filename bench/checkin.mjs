#!/usr/bin/env node
import { client, SECRETS, startWorker } from "../test/e2e/harness.mjs";
import { arg, commandLine, checkinBody, col, hasUrls, measure as measureRoute, table as tableOf, writeSection } from "./lib.mjs";

const SECONDS = Number(arg("seconds", "8"));
const CONCURRENCY = Number(arg("concurrency", "16"));
const WRITE = process.argv.includes("--write");
const JSON_HEADERS = { "content-type": "application/json" };

const measure = (name, op, ok = (r) => r.status === 200) => measureRoute(name, op, { seconds: SECONDS, concurrency: CONCURRENCY, ok });
const body = (over) => JSON.stringify(checkinBody(over));

const w = await startWorker({ devtools: false });
const call = client(w.url);
const rows = [];
try {
  const admin = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
  // A country list of Citizen Lab's size (about 1,000 URLs for a large country) next to the seeded global list.
  const csv = [
    "url,category_code,category_description,date_added,source,notes",
    ...Array.from({ length: 1000 }, (_, i) => `https://site${i}.example.it/,${["NEWS", "HUMR", "POLR", "COMT"][i % 4]},,2020-01-01,bench,`),
  ].join("\n");
  const imp = await call("POST", "/api/v1/admin/test-lists?country=IT", { raw: csv, token: admin, headers: { "content-type": "text/csv" } });
  if (imp.status !== 200) throw new Error(`import failed: ${imp.status}`);
  for (let i = 0; i < 50; i++) await call("GET", "/health");
  const timed = body({});
  const manual = body({ run_type: "manual" });
  const news = body({ web_connectivity: { category_codes: ["NEWS", "HUMR"] } });
  const de = body({ probe_cc: "DE", probe_asn: "AS3320" });
  for (let i = 0; i < 50; i++) await call("POST", "/api/v1/check-in", { raw: timed, headers: JSON_HEADERS });
  rows.push(await measure("GET /health (bare, first)", () => call("GET", "/health")));
  rows.push(await measure("POST /api/v1/check-in (timed, 20 URLs)", () => call("POST", "/api/v1/check-in", { raw: timed, headers: JSON_HEADERS }), hasUrls));
  rows.push(
    await measure("POST /api/v1/check-in (timed, 2 categories)", () => call("POST", "/api/v1/check-in", { raw: news, headers: JSON_HEADERS }), hasUrls),
  );
  rows.push(
    await measure("POST /api/v1/check-in (timed, global list only)", () => call("POST", "/api/v1/check-in", { raw: de, headers: JSON_HEADERS }), hasUrls),
  );
  rows.push(
    await measure("POST /api/v1/check-in (manual, 1,026 URLs)", () => call("POST", "/api/v1/check-in", { raw: manual, headers: JSON_HEADERS }), hasUrls),
  );
  // A campaign whose run is open: every IT check-in joins it (one batch: report_id + event).
  const job = await call("POST", "/api/v1/admin/job", {
    json: {
      schedule: "R1//P",
      comment: "bench",
      task: { test_name: "web_connectivity", arguments: { urls: ["https://campaign.example/"] } },
      target: { countries: ["IT"] },
    },
    token: admin,
  });
  if (job.status !== 200) throw new Error(`campaign failed: ${job.status}`);
  await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`);
  for (let i = 0; i < 100; i++) {
    const d = await call("GET", `/api/v1/admin/job/${job.body.id}`, { token: admin });
    if (d.body.runs?.length && d.body.runs[0].state !== "dispatching") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  rows.push(
    await measure(
      "POST /api/v1/check-in (timed, joins a campaign run)",
      () => call("POST", "/api/v1/check-in", { raw: timed, headers: JSON_HEADERS }),
      (r) => hasUrls(r) && r.body.tests.web_connectivity.urls[0].url === "https://campaign.example/",
    ),
  );
  rows.push(await measure("GET /health (bare, last)", () => call("GET", "/health")));
} finally {
  await w.stop();
}

const table = tableOf(rows, [col.route, col.rps(), col.vsBare, col.p50, col.p99, col.errors]);
console.log(`\n${table}`);

if (WRITE) {
  const section = [
    "<!-- checkin:start -->",
    "## Check-in throughput (OONI)",
    "",
    commandLine(`node bench/checkin.mjs --seconds ${SECONDS} --concurrency ${CONCURRENCY} --write`),
    `wrangler's dev server with the devtools inspector off (as \`bench/registry.mjs --devtools off\`), ${CONCURRENCY} concurrent clients with keep-alive, ${SECONDS} s per row, fresh local D1 with a 1,000-URL IT list imported next to the seeded 26-URL global list. Bodies are probe-cli's; an answer counts as an error unless it is exactly 200 with a non-empty URL list (probe-cli's rule). The bare route is measured first and last; percentages are against their mean (when the two differ widely, the shared machine's load changed during the run: compare rows measured next to each other).`,
    "",
    table,
    "",
    "A check-in with no campaign is one D1 round trip of two random samples (`ORDER BY random() LIMIT n` over the country and global lists) plus one read of the open campaign runs; a manual run serialises the whole list. A check-in that joins a campaign run adds one write batch (its report_id and an event), shared with concurrent writes by group commit.",
    "<!-- checkin:end -->",
  ].join("\n");
  writeSection("checkin", section);
}
