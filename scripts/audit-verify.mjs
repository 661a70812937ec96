#!/usr/bin/env node
// npm run audit:verify [-- --remote] [-- --persist-to DIR]: recompute the audit log's hash chain from the database
// and exit non-zero naming the first entry that breaks it (docs/audit.md). Reads through `wrangler d1 execute`:
// the local development database by default (.wrangler/state, or --persist-to), the deployed one with --remote.
// The chain code is functions/audit/chain.ts itself, transpiled here, so the Worker and this script cannot disagree.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");
const PAGE = 500;

function usage(message) {
  if (message) console.error(`audit:verify: ${message}`);
  console.error("usage: npm run audit:verify -- [--remote] [--persist-to DIR] [--database DB] [--config wrangler.toml]");
  process.exit(2);
}

function parseArgs(argv) {
  const o = { remote: false, persistTo: null, database: "DB", config: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === "--remote") o.remote = true;
    else if (a === "--local") o.remote = false;
    else if (a === "--persist-to") o.persistTo = value();
    else if (a === "--database") o.database = value();
    else if (a === "--config") o.config = value();
    else if (a === "--help" || a === "-h") usage();
    else usage(`unknown argument ${a}`);
  }
  if (o.remote && o.persistTo) usage("--persist-to is for the local database only");
  return o;
}

async function loadChain() {
  const source = readFileSync(path.join(ROOT, "functions", "audit", "chain.ts"), "utf8");
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
  return import(`data:text/javascript;base64,${Buffer.from(js).toString("base64")}`);
}

function query(o, sqlText) {
  const args = ["d1", "execute", o.database, o.remote ? "--remote" : "--local", "--json", "--command", sqlText];
  if (o.persistTo) args.push("--persist-to", o.persistTo);
  if (o.config) args.push("--config", o.config);
  const r = spawnSync(WRANGLER, args, {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  });
  if (r.status !== 0) {
    console.error(`audit:verify: wrangler d1 execute failed (exit ${r.status}):\n${r.stderr || r.stdout}`);
    process.exit(2);
  }
  const parsed = JSON.parse(r.stdout);
  const results = Array.isArray(parsed) ? parsed[0]?.results : parsed?.results;
  if (!Array.isArray(results)) {
    console.error(`audit:verify: unexpected wrangler output:\n${r.stdout.slice(0, 2000)}`);
    process.exit(2);
  }
  return results;
}

const o = parseArgs(process.argv.slice(2));
const { GENESIS, verifyChain } = await loadChain();
const where = o.remote ? "the deployed database" : o.persistTo ? `the local database in ${o.persistTo}` : "the local database";
let state = { verified: GENESIS, pending: 0, problem: null };
let after = 0;
let entries = 0;
for (;;) {
  // Integers only in the text: seq is a number this script produced, so the command needs no quoting.
  const rows = query(
    o,
    `SELECT seq, at, actor, action, subject_kind, subject_id, data, prev_hash, hash FROM audit_log WHERE seq > ${Number(after)} ORDER BY seq LIMIT ${PAGE}`,
  );
  entries += rows.length;
  state = await verifyChain(rows, state);
  if (state.problem || rows.length < PAGE) break;
  after = rows[rows.length - 1].seq;
}

if (state.problem) {
  console.error(`audit chain BROKEN in ${where} at seq ${state.problem.seq}: ${state.problem.reason}`);
  console.error(`verified intact up to seq ${state.verified.seq} (hash ${state.verified.hash}); nothing after it is trusted`);
  process.exit(1);
}
console.log(
  `audit chain verified in ${where}: ${entries} entr${entries === 1 ? "y" : "ies"}, intact up to seq ${state.verified.seq}, head hash ${state.verified.hash}` +
    (state.pending ? `; ${state.pending} newer entr${state.pending === 1 ? "y" : "ies"} not yet sealed` : ""),
);
