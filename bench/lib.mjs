// Shared by the benchmarks: command-line options, the development secrets, timing a route from concurrent clients
// (measure), the figures as a Markdown table, probe-cli's check-in body, and bench/README.md sections.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, sharedBy } from "../test/e2e/harness.mjs";

/** `--name value` from the command line, or the default. */
export const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};

/** The development secrets of .dev.vars.example whose names match `re` (e.g. /^LEASE_/), as a vars object. */
export function devVars(re) {
  const text = readFileSync(path.join(ROOT, ".dev.vars.example"), "utf8");
  const out = {};
  for (const m of text.matchAll(/^([A-Z0-9_]+)=(['"])(.*)\2$/gm)) if (re.test(m[1])) out[m[1]] = m[3];
  return out;
}

/** Replaces the `<!-- key:start -->…<!-- key:end -->` section of bench/README.md (appends it the first time). */
export function writeSection(key, section) {
  const file = path.join(ROOT, "bench", "README.md");
  const text = readFileSync(file, "utf8");
  const re = new RegExp(`<!-- ${key}:start -->[\\s\\S]*<!-- ${key}:end -->`);
  writeFileSync(file, re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n${section}\n`);
  // `npm run lint` checks the README's formatting too (biome aligns the Markdown tables).
  spawnSync(path.join(ROOT, "node_modules", ".bin", "biome"), ["format", "--write", file], { cwd: ROOT, stdio: "ignore" });
  console.log(`wrote ${file}`);
}

/** The `p` quantile (0..1) of `sorted` (ascending), as the benchmarks have always read it: the value at floor(p·n). */
export const quantile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/**
 * Runs `op(worker, i)` from `concurrency` workers for `seconds` and returns a table row
 * `{ name, concurrency, requests, errors, rps, p50, p99, shared }`. An answer `ok` refuses, or an `op` that throws,
 * counts as an error. `shared` is the mean `Server-Timing: commit;desc="shared by N"` of the answers that carry one
 * (requests per D1 round trip under group commit), null when none did.
 */
export async function measure(name, op, { seconds, concurrency, ok = (r) => r.status === 200 }) {
  const lat = [];
  let errors = 0;
  let shared = 0;
  let commits = 0;
  const end = performance.now() + seconds * 1000;
  const worker = async (w) => {
    let i = 0;
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await Promise.resolve()
        .then(() => op(w, i++))
        .catch(() => undefined);
      lat.push(performance.now() - t0);
      if (r === undefined || !ok(r)) errors++;
      const n = r?.headers ? sharedBy(r.headers) : 0;
      if (n) {
        shared += n;
        commits++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const row = {
    name,
    concurrency,
    requests: lat.length,
    errors,
    rps: lat.length / secs,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    shared: commits ? shared / commits : null,
  };
  console.log(
    `${name.padEnd(52)} c=${String(concurrency).padEnd(3)} ${row.rps.toFixed(0).padStart(6)} req/s  p50 ${row.p50.toFixed(1)} ms  p99 ${row.p99.toFixed(1)} ms  errors ${errors}${row.shared ? `  shared by ${row.shared.toFixed(1)}` : ""}`,
  );
  return row;
}

/** The bare route's rate: the mean of the first and the last row (the benchmarks measure it before and after). */
export const bareRps = (rows) => (rows[0].rps + rows[rows.length - 1].rps) / 2;

/** Table columns the benchmarks share: `[heading, alignment ("l" | "r"), cell(row, bare)]`. */
export const col = {
  route: ["route", "l", (r) => r.name],
  clients: ["clients", "r", (r) => String(r.concurrency)],
  rps: (heading = "req/s") => [heading, "r", (r) => r.rps.toFixed(0)],
  vsBare: ["vs bare /health", "r", (r, bare) => `${((100 * r.rps) / bare).toFixed(0)}%`],
  p50: ["p50 ms", "r", (r) => r.p50.toFixed(1)],
  p99: ["p99 ms", "r", (r) => r.p99.toFixed(1)],
  requests: ["requests", "r", (r) => String(r.requests)],
  errors: ["errors", "r", (r) => String(r.errors)],
  shared: ["requests per D1 round trip", "r", (r) => (r.shared ? r.shared.toFixed(1) : "")],
};

/** A Markdown table of `rows` with `columns` (from `col`), percentages against `bare` (default: bareRps(rows)). */
export function table(rows, columns, bare = bareRps(rows)) {
  return [
    `| ${columns.map(([h]) => h).join(" | ")} |`,
    `|${columns.map(([, a]) => (a === "r" ? "---:" : "---")).join("|")}|`,
    ...rows.map((r) => `| ${columns.map(([, , cell]) => cell(r, bare)).join(" | ")} |`),
  ].join("\n");
}

/** The body probe-cli sends to POST /api/v1/check-in (a timed run of miniooni on Linux), with overrides. */
export const checkinBody = (over = {}) => ({
  charging: false,
  on_wifi: true,
  platform: "linux",
  probe_asn: "AS1234",
  probe_cc: "IT",
  run_type: "timed",
  software_name: "miniooni",
  software_version: "3.30.0",
  web_connectivity: { category_codes: [] },
  ...over,
});

/** probe-cli's rule for a check-in answer: exactly 200 and a non-empty URL list. */
export const hasUrls = (r) => r.status === 200 && r.body?.tests?.web_connectivity?.urls?.length > 0;

/** A section's command line and the run's conditions: "Command: `cmd` (date, cores shared by …, Node version)." */
export const commandLine = (cmd, sharedWith = "wrangler's Node process and workerd") =>
  `Command: \`${cmd}\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores shared by the load generator, ${sharedWith}, Node ${process.version}).`;
