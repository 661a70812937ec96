#!/usr/bin/env node
// Load test against a real `wrangler dev` (test/e2e/harness.mjs), loopback only, bounded in count and time:
// many simulated clients register, log in, update themselves and check in (probe-cli's body) while simulated
// stormflash agents (tools/agent-sim.mjs) answer the registry's status polls over their WebSockets and change
// packages, and a campaign targeting the probes registered first is pushed, page by page, to tools/fake-gorush.mjs.
// Then every write is checked against what the service holds:
//   - no 5xx (and no other unexpected answer); 429s are counted apart (the harness exempts loopback from the
//     per-address limits, so there should be none);
//   - every registered client_id is listed with the metadata of its last acknowledged update, and nothing else is;
//   - every check-in was answered 200 with URLs (probe-cli's rule);
//   - the registry's fleet checksum and count are those of every agent's last status;
//   - the campaign's run pushed every target (none lost, none outside the target).
//
//   node bench/load.mjs [--probes 2000] [--agents 200] [--seconds 60] [--concurrency 16] [--devtools off|on] [--log file] [--write]
//
// Importable: `runLoad(opts)` (test/e2e/load.test.mjs runs a short form from `npm test`).
import { createHash, randomBytes } from "node:crypto";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { StormflashAgent } from "../tools/agent-sim.mjs";
import { startFakeGorush } from "../tools/fake-gorush.mjs";
import { client, eventually, probeBody, SECRETS, startWorker } from "../test/e2e/harness.mjs";
import { arg, checkinBody, commandLine, col, hasUrls, measure, quantile, table, writeSection } from "./lib.mjs";

/** Country of the probes the campaign targets (registered before the cron fires), and of those registered during the load. */
const TARGET_CC = "NZ";
/** Country of the seeded probes outside the campaign (with `campaignProbes` below `probes`). */
const SEED_CC = "NR";
const LATE_CC = "NP";
const JSON_HEADERS = { "content-type": "application/json" };
const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
/** 64 random letters, as probe-cli makes its password. */
const secret = () => Array.from(randomBytes(64), (b) => letters[b % letters.length]).join("");
const md5 = (s) => createHash("md5").update(s).digest("hex");

/** The registry's checksum of one status (docs/minions.md "Checksums"): md5 of its JSON without the top-level os key. */
export function minionChecksum(status) {
  const { os: _os, ...rest } = status;
  return md5(JSON.stringify(rest));
}

/** The fleet checksum the registry must show for these minions ({id, checksum}), by docs/minions.md's rule. */
export function fleetChecksum(minions) {
  const buckets = new Map();
  for (const m of minions) {
    const b = md5(m.id).slice(0, 2);
    buckets.set(b, [...(buckets.get(b) ?? []), m]);
  }
  const digests = [...buckets.keys()].sort().map((b) => {
    const members = buckets.get(b).sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return `${b}:${md5(members.map((m) => `${m.id}:${m.checksum}\n`).join(""))}\n`;
  });
  return md5(digests.join(""));
}

/** Latency and outcome counts per kind of request. */
class Tally {
  constructor() {
    this.kinds = new Map();
  }

  kind(name) {
    if (!this.kinds.has(name)) this.kinds.set(name, { name, lat: [], ok: 0, s5xx: 0, s429: 0, other: 0, failed: 0, samples: [] });
    return this.kinds.get(name);
  }

  /** One answer (or `null`: no answer at all) of kind `name`, accepted when `ok(r)`. */
  add(name, ms, r, ok) {
    const k = this.kind(name);
    k.lat.push(ms);
    if (!r) k.failed++;
    else if (r.status >= 500) k.s5xx++;
    else if (r.status === 429) k.s429++;
    else if (ok(r)) return void k.ok++;
    else k.other++;
    if (k.samples.length < 5) k.samples.push(r ? `${r.status} ${JSON.stringify(r.body).slice(0, 200)}` : "no answer");
  }

  rows(seconds) {
    return [...this.kinds.values()].map((k) => {
      const lat = [...k.lat].sort((a, b) => a - b);
      return { ...k, requests: lat.length, rps: seconds ? lat.length / seconds : null, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), lat: undefined };
    });
  }
}

/**
 * One load run. Returns `{ figures, failures }`: `failures` lists every broken expectation (empty when the run passed).
 * probes: probes registered first, the first `campaignProbes` of them (all by default) the campaign's targets;
 * agents: stormflash agents connected first; seconds: the mixed load's length.
 */
export async function runLoad({
  probes = 200,
  campaignProbes = probes,
  agents: agentCount = 20,
  seconds = 15,
  concurrency = 16,
  monitorMs = 2000,
  healthSeconds = 3,
  devtools = true,
  drainMs = 120_000,
  logFile = null,
  log = console.log,
} = {}) {
  // The campaign in a few pages, handed out back to back (there is no pacing: docs/decisions/0013-sharded-schedulers.md).
  const pageSize = Math.max(25, Math.ceil(campaignProbes / 4));
  const pages = Math.ceil(campaignProbes / pageSize);
  const gw = await startFakeGorush({ maxNotification: 100, sync: true });
  const w = await startWorker({
    devtools,
    logFile,
    timeoutMs: 120_000,
    vars: {
      GORUSH_URL: gw.url,
      GORUSH_SYNC: "on",
      FANOUT_PAGE_SIZE: String(pageSize),
      MONITOR_INTERVAL_MS: String(monitorMs),
    },
  });
  const call = client(w.url);
  const tally = new Tally();
  const failures = [];
  const agents = [];
  const figures = {
    probes,
    campaign_probes: campaignProbes,
    agents: agentCount,
    seconds,
    concurrency,
    monitor_interval_ms: monitorMs,
    fanout: { page_size: pageSize, pages },
  };
  /** A timed request of kind `kind`; returns the answer, or null when none came. */
  const req = async (kind, method, path, opts, ok = (r) => r.status === 200) => {
    const t0 = performance.now();
    let r = null;
    try {
      r = await call(method, path, opts);
    } catch {
      // counted as "no answer"
    }
    tally.add(kind, performance.now() - t0, r, ok);
    return r;
  };
  /** A probe client: registers with a password (as ooniprobe does), logs in; `meta` is what its last acknowledged write set. */
  const newProbe = async (kind, cc, n) => {
    const password = secret();
    const pushToken = `load-${cc}-${n}-${randomBytes(6).toString("hex")}`;
    const body = probeBody({ probe_cc: cc, token: pushToken, password, probe_asn: `AS${64500 + (n % 20)}` });
    const r = await req(`register${kind}`, "POST", "/api/v1/register", { json: body }, (x) => x.status === 200 && typeof x.body?.client_id === "string");
    if (r?.status !== 200) return null;
    const l = await req(
      `login${kind}`,
      "POST",
      "/api/v1/login",
      { json: { username: r.body.client_id, password } },
      (x) => x.status === 200 && !!x.body?.token,
    );
    const p = {
      id: r.body.client_id,
      cc,
      pushToken,
      token: l?.body?.token ?? null,
      meta: { software_version: body.software_version, network_type: body.network_type },
      updates: 0,
    };
    return p;
  };
  try {
    const admin = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;

    // 1. Seed, under load already: the probes (the campaign's targets first) register and log in while the agents connect.
    const t0 = performance.now();
    const seeded = [];
    let nextProbe = 0;
    const seedProbes = Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (nextProbe < probes) {
          const n = nextProbe++;
          const p = await newProbe(" (seed)", n < campaignProbes ? TARGET_CC : SEED_CC, n);
          if (p) seeded.push(p);
        }
      }),
    );
    const seedAgents = (async () => {
      for (let i = 0; i < agentCount; i += 25) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(25, agentCount - i) }, async () => {
            const a = await StormflashAgent.register(w.url);
            await a.connect();
            return a;
          }),
        );
        agents.push(...batch);
      }
    })();
    await Promise.all([seedProbes, seedAgents]);
    const minionCount = async () => Number((await call("HEAD", "/minions", { token: admin })).headers.get("x-minion-count"));
    await eventually(async () => (await minionCount()) === agentCount, `${agentCount} minions listed`, 60_000);
    figures.seed_s = (performance.now() - t0) / 1000;
    const targets = seeded.filter((p) => p.cc === TARGET_CC);
    log(`seeded ${seeded.length} probes and ${agents.length} agents in ${figures.seed_s.toFixed(1)} s`);

    const job = await call("POST", "/api/v1/admin/job", {
      json: { schedule: "R1//P", comment: "load test", task: { test_name: "web_connectivity", arguments: {} }, target: { countries: [TARGET_CC] } },
      token: admin,
    });
    if (job.status !== 200) throw new Error(`create job: ${job.status} ${JSON.stringify(job.body)}`);

    // 2. The bare route alone, for the ratio.
    for (let i = 0; i < 20; i++) await call("GET", "/health");
    const healthFirst = await measure("GET /health (bare, before the load)", () => call("GET", "/health"), { seconds: healthSeconds, concurrency });

    // 3. Fire the campaign, then the mixed load: every worker owns the probes it writes, so each probe's writes are
    // in order and its last acknowledged update is what the service must hold.
    const cron = await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`);
    if (cron.status !== 200) failures.push(`cron handler answered ${cron.status}`);
    const firedAt = Date.now();
    const owned = Array.from({ length: concurrency }, (_, k) => seeded.filter((_, i) => i % concurrency === k));
    const late = [];
    let nextLate = 0;
    let updateSeq = 0;
    let statusChanges = 0;
    const relaysBefore = agents.reduce((s, a) => s + a.relays, 0);
    // About one package change per agent per four polls: statuses keep changing while the load runs.
    const changer = setInterval(
      () => {
        agents[Math.floor(Math.random() * agents.length)]?.installPackage();
        statusChanges++;
      },
      Math.max(20, Math.floor((4 * monitorMs) / Math.max(1, agentCount))),
    );
    const checkins = [checkinBody({ probe_cc: TARGET_CC, probe_asn: "AS64500" }), checkinBody({ probe_cc: LATE_CC }), checkinBody({ run_type: "manual" })].map(
      (b) => JSON.stringify(b),
    );
    const end = performance.now() + seconds * 1000;
    const mixedStart = performance.now();
    await Promise.all(
      owned.map(async (mine, k) => {
        for (let i = 0; performance.now() < end; i++) {
          // The workers start at different points of the mix, so a short run still has every kind of request.
          const pick = (i + 3 * k) % 10;
          if (pick < 2 || mine.length === 0) {
            // a new client: register, log in
            const p = await newProbe("", LATE_CC, nextLate++);
            if (p) {
              mine.push(p);
              late.push(p);
            }
          } else if (pick < 6) {
            const p = mine[(i * 7 + k) % mine.length];
            const n = ++updateSeq;
            const meta = { software_version: `3.9.${n}`, network_type: n % 2 ? "mobile" : "wifi" };
            const r = await req("update", "PUT", `/api/v1/update/${p.id}`, { token: p.token, json: meta }, (x) => x.status === 200 && x.body?.status === "ok");
            if (r?.status === 200) {
              p.meta = meta;
              p.updates++;
            }
          } else {
            await req("check-in", "POST", "/api/v1/check-in", { raw: checkins[i % checkins.length], headers: JSON_HEADERS }, hasUrls);
          }
        }
      }),
    );
    clearInterval(changer);
    const mixedSeconds = (performance.now() - mixedStart) / 1000;
    const statusReplies = agents.reduce((s, a) => s + a.relays, 0) - relaysBefore;
    const healthLast = await measure("GET /health (bare, after the load)", () => call("GET", "/health"), { seconds: healthSeconds, concurrency });

    // 4. Verification.
    // 4a. The campaign: every target pushed, none outside the target.
    const expected = new Set(targets.map((p) => p.pushToken));
    const pushed = () => new Set(gw.received.map((r) => r.token).filter((t) => expected.has(t)));
    await eventually(() => pushed().size >= expected.size, `${expected.size} pushes at the gateway`, drainMs).catch((e) => failures.push(String(e.message)));
    const tokens = gw.received.map((r) => r.token);
    const detail = (await call("GET", `/api/v1/admin/job/${job.body.id}`, { token: admin })).body;
    const run = detail.runs?.[0] ?? {};
    figures.campaign = {
      targets: run.targets,
      run_state: run.state,
      pushes_received: tokens.length,
      probes_pushed: pushed().size,
      lost: expected.size - pushed().size,
      duplicates: tokens.length - new Set(tokens).size,
      outside_target: tokens.filter((t) => !expected.has(t)).length,
      task_counts: detail.task_counts,
      cron_to_last_push_s: (Math.max(firedAt, ...gw.received.map((r) => r.at)) - firedAt) / 1000,
    };
    if (run.targets !== expected.size) failures.push(`the run has ${run.targets} targets, ${expected.size} probes were registered in ${TARGET_CC}`);
    if (figures.campaign.lost) failures.push(`${figures.campaign.lost} campaign targets never pushed`);
    if (figures.campaign.outside_target) failures.push(`${figures.campaign.outside_target} pushes outside the target`);

    // 4b. The registry: every client listed with its last acknowledged metadata, and no client we did not register.
    const mineAll = [...seeded, ...late];
    const listed = new Map();
    for (const cc of [TARGET_CC, SEED_CC, LATE_CC]) {
      for (let cursor = null, pages = 0; pages < 1000; pages++) {
        const page = await call("GET", `/api/v1/admin/clients?country=${cc}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, {
          token: admin,
        });
        if (page.status !== 200) throw new Error(`list clients: ${page.status} ${JSON.stringify(page.body)}`);
        for (const c of page.body.results) listed.set(c.client_id, c);
        cursor = page.body.metadata.next_cursor;
        if (!cursor) break;
      }
    }
    const lostWrites = mineAll.filter((p) => {
      const row = listed.get(p.id);
      return !row || row.software_version !== p.meta.software_version || row.network_type !== p.meta.network_type;
    });
    const unknown = [...listed.keys()].filter((id) => !mineAll.some((p) => p.id === id));
    figures.registry = {
      clients_registered: mineAll.length,
      clients_listed: listed.size,
      clients_updated: mineAll.filter((p) => p.updates).length,
      lost_writes: lostWrites.length,
      unknown_clients: unknown.length,
    };
    if (lostWrites.length)
      failures.push(
        `${lostWrites.length} clients missing or not at their last update, e.g. ${lostWrites
          .slice(0, 3)
          .map((p) => `${p.id}: want ${JSON.stringify(p.meta)}, listed ${JSON.stringify(listed.get(p.id) ?? null)}`)
          .join("; ")}`,
      );
    if (unknown.length) failures.push(`${unknown.length} listed clients that no client registered (a retried register made twice?)`);

    // 4c. The minion registry: its fleet checksum is that of every agent's last status (picked up by the next poll).
    const want = fleetChecksum(agents.map((a) => ({ id: a.id, checksum: minionChecksum(a.status) })));
    let fleet = null;
    await eventually(
      async () => {
        const h = await call("HEAD", "/minions", { token: admin });
        fleet = { checksum: h.headers.get("content-md5"), count: Number(h.headers.get("x-minion-count")) };
        return fleet.checksum === want && fleet.count === agentCount;
      },
      "the registry to hold every agent's last status",
      Math.max(30_000, 5 * monitorMs),
    ).catch(() => {});
    let stale = 0;
    if (fleet?.checksum !== want) {
      for (const a of agents) {
        const h = await call("HEAD", `/minions/${a.id}`, { token: admin });
        if (h.headers.get("content-md5") !== minionChecksum(a.status)) stale++;
      }
      failures.push(`the registry's fleet checksum is not the agents' (${fleet?.count} listed of ${agentCount}; ${stale} minions not at their last status)`);
    }
    figures.minions = { agents: agentCount, listed: fleet?.count, status_replies: statusReplies, status_changes: statusChanges, stale };

    // 4d. Every answer: no 5xx, nothing unexpected; 429s apart.
    const rows = tally.rows(null).map((r) => ({ ...r, rps: r.name.includes("(seed)") ? r.requests / figures.seed_s : r.requests / mixedSeconds }));
    // wrangler's proxy answers 503 "Your worker restarted mid-request" to a write in flight when the dev server reloads
    // (the CLI watches the Worker's sources): a 5xx all the same, but the log says whose it was.
    const reloads = (w.logs.match(/Reloading local server/g) ?? []).length;
    for (const r of rows) {
      if (r.s5xx) failures.push(`${r.s5xx} answers 5xx to ${r.name} (dev server reloads during the run: ${reloads}): ${r.samples.join(" | ")}`);
      if (r.other || r.failed) failures.push(`${r.other} unexpected answers and ${r.failed} without answer to ${r.name}: ${r.samples.join(" | ")}`);
    }
    const mixed = rows.filter((r) => !r.name.includes("(seed)"));
    const mixedRps = mixed.reduce((s, r) => s + r.requests, 0) / mixedSeconds;
    const health = (healthFirst.rps + healthLast.rps) / 2;
    Object.assign(figures, {
      mixed_seconds: mixedSeconds,
      rows,
      health: { first: healthFirst, last: healthLast, mean_rps: health },
      mixed_rps: mixedRps,
      mixed_vs_health: mixedRps / health,
      total_5xx: rows.reduce((s, r) => s + r.s5xx, 0),
      total_429: rows.reduce((s, r) => s + r.s429, 0),
      // The in-process server (devtools off) keeps no log here: null, not a count of zero.
      storage_errors_in_worker_log: devtools ? (w.logs.match(/SQLITE_NOMEM|SQLITE_BUSY/g) ?? []).length : null,
      dev_server_reloads: reloads,
    });
    return { figures, failures };
  } finally {
    for (const a of agents) a.close();
    await w.stop();
    await gw.stop();
  }
}

const loadTable = (f) =>
  table(
    [...f.rows, { ...f.health.first, s5xx: 0, s429: 0 }, { ...f.health.last, s5xx: 0, s429: 0 }],
    [
      ["request", "l", (r) => r.name],
      col.requests,
      col.rps(),
      ["vs bare /health", "r", (r) => `${((100 * r.rps) / f.health.mean_rps).toFixed(0)}%`],
      col.p50,
      col.p99,
      ["5xx", "r", (r) => String(r.s5xx)],
      ["429", "r", (r) => String(r.s429)],
    ],
  );

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const opts = {
    probes: Number(arg("probes", "2000")),
    campaignProbes: Number(arg("campaign-probes", arg("probes", "2000"))),
    agents: Number(arg("agents", "200")),
    seconds: Number(arg("seconds", "60")),
    concurrency: Number(arg("concurrency", "16")),
    monitorMs: Number(arg("monitor-ms", "3000")),
    healthSeconds: Number(arg("health-seconds", "8")),
    // Off by default: the CLI's file watcher pauses wrangler's proxy on any rebuild (a 503 to every write in flight,
    // and with an unchanged bundle no resume: GETs hang), which a long run on a shared tree cannot rule out.
    devtools: arg("devtools", "off") === "on",
    logFile: arg("log", null),
  };
  const loadBefore = os.loadavg()[0];
  const started = Date.now();
  const { figures: f, failures } = await runLoad(opts);
  const wall = (Date.now() - started) / 1000;
  const loadAfter = os.loadavg()[0];
  console.log(`\n${loadTable(f)}`);
  console.log(
    JSON.stringify({ campaign: f.campaign, registry: f.registry, minions: f.minions, mixed_rps: f.mixed_rps, mixed_vs_health: f.mixed_vs_health }, null, 2),
  );
  if (failures.length) {
    console.error(`FAIL:\n- ${failures.join("\n- ")}`);
    process.exitCode = 1;
  } else console.log("PASS: no 5xx, no lost write, every target pushed");
  if (process.argv.includes("--write")) {
    const cmd = `node bench/load.mjs --probes ${opts.probes} --campaign-probes ${opts.campaignProbes} --agents ${opts.agents} --seconds ${opts.seconds} --concurrency ${opts.concurrency} --monitor-ms ${opts.monitorMs} --devtools ${opts.devtools ? "on" : "off"} --write`;
    const section = [
      "<!-- load:start -->",
      "## Load: every surface at once",
      "",
      `${commandLine(cmd, `wrangler's Node process and workerd, and other engineers' runs (one-minute load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after)`)} ${wall.toFixed(0)} s in all. The short form runs in \`npm test\` (\`test/e2e/load.test.mjs\`).`,
      `Against ${opts.devtools ? "the `wrangler dev` CLI (devtools inspector attached)" : "wrangler's dev server with the devtools inspector off"}, loopback only, from one Node process. Seed (timed as a whole): ${f.probes} probes register with a password and log in (${opts.concurrency} clients) while ${f.agents} stormflash agents (\`tools/agent-sim.mjs\`) register and connect their WebSockets, ${f.seed_s.toFixed(1)} s until every agent is listed. A campaign targeting ${f.campaign_probes === f.probes ? "those probes" : `${f.campaign_probes} of those probes (one country)`} is then fired through \`/cdn-cgi/handler/scheduled\`, ${f.fanout.pages} pages of ${f.fanout.page_size} handed out back to back, pushed through \`tools/fake-gorush.mjs\` (core.sync on), while for ${opts.seconds} s ${opts.concurrency} clients loop over: a new probe registering and logging in (2 in 10), an update of one of its probes by its own token (4 in 10, new software_version and network_type), a check-in with probe-cli's body (4 in 10: the campaign's country, which joins its run, another country, a manual run). Meanwhile the registry polls every agent every ${opts.monitorMs / 1000} s (${f.minions.status_replies} status replies over the WebSockets) and ${f.minions.status_changes} package changes are made at random agents. GET /health alone, with the same ${opts.concurrency} clients, is measured for ${opts.healthSeconds} s before and after; the percentages are against their mean (${f.health.mean_rps.toFixed(0)} req/s).`,
      "",
      loadTable(f),
      "",
      `All the mixed load's requests together: ${f.mixed_rps.toFixed(0)} req/s, ${(100 * f.mixed_vs_health).toFixed(0)}% of the bare route's rate, with the campaign pushing and ${f.agents} agents answering polls at the same time.`,
      "",
      "| check | result |",
      "|---|---|",
      `| answers 5xx | ${f.total_5xx} |`,
      `| answers 429 (counted apart; loopback is exempt from the per-address limits) | ${f.total_429} |`,
      `| clients registered / listed afterwards / at their last update | ${f.registry.clients_registered} / ${f.registry.clients_listed} / ${f.registry.clients_registered - f.registry.lost_writes} (lost writes: ${f.registry.lost_writes}; ${f.registry.clients_updated} clients updated) |`,
      `| listed clients no client registered | ${f.registry.unknown_clients} |`,
      `| agents listed, fleet checksum equal to their last statuses | ${f.minions.listed} of ${f.agents}, ${f.minions.stale === 0 ? "yes" : `no (${f.minions.stale} stale)`} |`,
      `| campaign: run targets / probes pushed / lost / outside the target / duplicated pushes | ${f.campaign.targets} / ${f.campaign.probes_pushed} / ${f.campaign.lost} / ${f.campaign.outside_target} / ${f.campaign.duplicates} (run ${f.campaign.run_state}, last push ${f.campaign.cron_to_last_push_s.toFixed(1)} s after the cron) |`,
      `| SQLITE_NOMEM / SQLITE_BUSY in the worker log | ${f.storage_errors_in_worker_log ?? "not captured (in-process dev server)"} |`,
      "<!-- load:end -->",
    ].join("\n");
    writeSection("load", section);
  }
}
