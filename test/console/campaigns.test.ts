import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createOperator, registerProbe } from "../helpers";
import { type Browser, consoleLogin, get, post } from "./helpers";

const jobCount = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs").first<{ n: number }>())!.n;
const VALID = {
  intent: "create",
  kind: "task",
  comment: "daily web_connectivity in Italy",
  schedule: "R/2017-05-01T00:00:00Z/P1D",
  test_name: "web_connectivity",
  arguments: "",
  countries: "IT",
};

describe("console campaign pages", () => {
  let admin: Browser;
  let viewer: Browser;
  const probes: Record<string, string> = {};
  beforeAll(async () => {
    probes.it1 = (await registerProbe({ probe_cc: "IT", probe_asn: "AS30722", platform: "android", network_type: "wifi" })).clientId;
    probes.it2 = (await registerProbe({ probe_cc: "IT", probe_asn: "AS3269", platform: "ios", network_type: "mobile", token: "" })).clientId;
    probes.gr = (await registerProbe({ probe_cc: "GR", probe_asn: "AS6799", platform: "android", supported_tests: ["dnscheck"] })).clientId;
    admin = await consoleLogin();
    const v = await createOperator("viewer");
    viewer = await consoleLogin(v.username, v.password);
  });

  it("the form's target pickers list the values present in the fleet, with their probe counts", async () => {
    const r = await get(admin, "/console/campaigns/new");
    expect(r.status).toBe(200);
    expect(r.body).toContain('<form method="post" action="/console/campaigns/new"');
    expect(r.body).toContain('<option value="IT">IT (2 probes)</option>');
    expect(r.body).toContain('<option value="AS6799">AS6799 (1 probe)</option>');
    expect(r.body).toMatch(/<input type="checkbox" id="f-platforms-\d" name="platforms" value="ios"\/>/);
    expect(r.body).toMatch(/name="supported_tests" value="dnscheck"/);
    expect(r.body).toMatch(/<option value="web_connectivity"\/?>/); // test name suggestions
    expect(r.body).toMatch(/name="idempotency_key" value="[0-9a-f-]{36}"/);
  });

  it("Preview shows the schedule in words, the next runs and the dry run's reach, and creates nothing", async () => {
    const r = await post(admin, "/console/campaigns/new", { ...VALID, intent: "preview" });
    expect(r.status).toBe(200);
    expect(r.body).toContain("Every day, forever, from 2017-05-01 00:00 UTC.");
    expect(r.body.match(/<li><time datetime="\d{4}-\d\d-\d\dT00:00:00.000Z">/g)).toHaveLength(5);
    expect(r.body).toContain("Targeted probes</dt><dd>2</dd>");
    expect(r.body).toContain("With a live push token</dt><dd>1</dd>");
    expect(r.body).toContain("Projected pushes per run</dt><dd>1</dd>");
    expect(r.body).toContain("<title>AS3269: 1 probe</title>");
    expect(r.body).toContain('<option value="IT" selected="">'); // the selection is kept
    expect(await jobCount()).toBe(0);
  });

  it("an invalid schedule is refused by the API and shown next to the field; nothing is created", async () => {
    const r = await post(admin, "/console/campaigns/new", { ...VALID, schedule: "R/2017-02-30T00:00:00Z/P1D" });
    expect(r.status).toBe(400);
    expect(r.body).toContain("There is a problem");
    expect(r.body).toMatch(/id="f-schedule-error"[^>]*>.*no such date or time/);
    expect(r.body).toMatch(/<input id="f-schedule" name="schedule" aria-describedby="f-schedule-hint f-schedule-error" aria-invalid="true"/);
    expect(r.body).toContain('value="R/2017-02-30T00:00:00Z/P1D"');
    expect(r.body).toContain('href="#f-schedule">Schedule: ');
    expect(await jobCount()).toBe(0);
  });

  it("bad JSON, a bad country and a missing test all show next to their fields at once", async () => {
    const json = await post(admin, "/console/campaigns/new", { ...VALID, arguments: "{urls:", schedule: "nope" });
    expect(json.status).toBe(400);
    expect(json.body).toMatch(/id="f-arguments-error"[^>]*>.*not valid JSON/);
    expect(json.body).toMatch(/id="f-schedule-error"[^>]*>.*expected 5 fields/);
    const api = await post(admin, "/console/campaigns/new", { ...VALID, test_name: "", countries: "Italy", rollout_per_minute: "fast" });
    expect(api.status).toBe(400);
    expect(api.body).toMatch(/id="f-countries-error"[^>]*>.*item 1: must be a two-letter country code/);
    expect(api.body).toMatch(/id="f-test_name-error"/);
    expect(api.body).toMatch(/id="f-rollout_per_minute-error"/);
    expect(await jobCount()).toBe(0);
  });

  let jobId: string;
  it("Create posts through the API, then the campaign is listed as active with its next run", async () => {
    const key = crypto.randomUUID();
    const r = await post(admin, "/console/campaigns/new", { ...VALID, idempotency_key: key });
    expect(r.status).toBe(303);
    const m = /^\/console\/campaigns\/([0-9a-f-]{36})\?done=created$/.exec(r.headers.get("location")!);
    expect(m).not.toBeNull();
    jobId = m![1];
    // The same form submitted twice (double click, back + resubmit) is one campaign.
    const again = await post(admin, "/console/campaigns/new", { ...VALID, idempotency_key: key });
    expect(again.headers.get("location")).toBe(r.headers.get("location"));
    expect(await jobCount()).toBe(1);
    const ev = await env.DB.prepare("SELECT actor FROM events WHERE type = 'job.created' AND job_id = ?").bind(jobId).first<{ actor: string }>();
    expect(ev?.actor).toBe("operator:admin");

    const list = await get(admin, "/console/campaigns");
    expect(list.status).toBe(200);
    const active = list.body.slice(list.body.indexOf('id="campaigns-active"'), list.body.indexOf('id="paused-h"'));
    expect(active).toContain(`href="/console/campaigns/${jobId}"`);
    expect(active).toContain("task: web_connectivity");
    expect(active).toMatch(/<time datetime="\d{4}-\d\d-\d\dT00:00:00.000Z" title="[^"]+ UTC">[^<]+<\/time>/);
    expect(active).toContain("no tasks yet");
    expect(list.body).toContain('href="/console/campaigns/new"');
  });

  it("the detail page shows the definition, next runs, tasks by state per run and the delivery log, paginated", async () => {
    const t0 = Date.parse("2026-11-20T00:00:00Z");
    const stmts: D1PreparedStatement[] = [];
    for (let k = 0; k < 3; k++) {
      const at = new Date(t0 + k * 86_400_000).toISOString();
      const run = `${jobId}:${t0 + k * 86_400_000}`;
      stmts.push(
        env.DB.prepare("INSERT INTO job_runs (id, job_id, run_no, scheduled_at, fired_at, state, targets) VALUES (?, ?, ?, ?, ?, 'dispatched', 2)").bind(
          run,
          jobId,
          k + 1,
          at,
          at,
        ),
      );
      for (const [p, state] of [
        [probes.it1, k === 2 ? "notified" : "done"],
        [probes.it2, k === 0 ? "expired" : "ready"],
      ]) {
        stmts.push(
          env.DB.prepare(
            "INSERT INTO tasks (id, job_id, run_id, probe_id, test_name, state, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, 'web_connectivity', ?, ?, ?, ?)",
          ).bind(crypto.randomUUID(), jobId, run, p, state, at, at, at),
        );
      }
    }
    for (let i = 0; i < 55; i++) {
      const type = i === 0 ? "push.failed" : i === 1 ? "push.deferred" : "push.sent";
      const data = JSON.stringify({ provider: "gorush", status: i === 0 ? 400 : 200, attempt: 1, ...(i === 0 ? { error: "bad token format" } : {}) });
      stmts.push(
        env.DB.prepare("INSERT INTO events (at, type, actor, job_id, probe_id, data) VALUES (?, ?, 'system', ?, ?, ?)").bind(
          new Date(t0 + i * 1000).toISOString(),
          type,
          jobId,
          probes.it1,
          data,
        ),
      );
    }
    await env.DB.batch(stmts);

    const r = await get(admin, `/console/campaigns/${jobId}?done=created`);
    expect(r.status).toBe(200);
    expect(r.body).toContain("Campaign created.");
    expect(r.body).toContain("daily web_connectivity in Italy");
    expect(r.body).toContain("Every day, forever, from 2017-05-01 00:00 UTC");
    expect(r.body).toMatch(/<dt>Countries<\/dt><dd>IT<\/dd>/);
    expect(r.body).toMatch(/<dt>Platforms<\/dt><dd>all<\/dd>/);
    expect(r.body.match(/<ol id="next-runs">(.*?)<\/ol>/)![1].match(/<li>/g)).toHaveLength(5);
    // Tasks by state per run: a stacked column per run, a tooltip per segment, and the numbers in a table.
    expect(r.body).toContain("<title>#1 · 11-20 00:00, done: 1 task</title>");
    expect(r.body).toContain("<title>#1 · 11-20 00:00, expired: 1 task</title>");
    expect(r.body).toMatch(
      /<th scope="row">#3 · 11-22 00:00<\/th><td class="num">1<\/td><td class="num">1<\/td>(<td class="num">0<\/td>){5}<td class="num">2<\/td>/,
    );
    expect(r.body).toContain("6 tasks: 3 open, 2 done, 1 expired or failed.");
    // The delivery log: newest first, 50 a page, provider, status and error.
    const log = r.body.slice(r.body.indexOf('id="deliveries"'));
    expect(log.match(/<tr><th scope="row">/g)).toHaveLength(50);
    const next = /href="([^"]+)" rel="next">Older pushes/.exec(r.body)![1].replace(/&amp;/g, "&");
    const older = await get(admin, next);
    expect(older.status).toBe(200);
    const olderLog = older.body.slice(older.body.indexOf('id="deliveries"'));
    expect(olderLog.match(/<tr><th scope="row">/g)).toHaveLength(5);
    expect(olderLog).toMatch(
      /failed<\/span><\/td><td><a href="\/console\/probes\/[^"]+"[^>]*>[0-9a-f]{8}<\/a><\/td><td>gorush<\/td><td>400<\/td><td class="num">1<\/td><td>bad token format<\/td>/,
    );
    expect(olderLog).toContain(">deferred</span>");
    expect((await get(admin, `/console/campaigns/${jobId}?cursor=garbage!`)).status).toBe(400);
  });

  it("a probe's page lists its tasks with links to their campaigns", async () => {
    const r = await get(admin, `/console/probes/${probes.it1}`);
    expect(r.body).toContain(`<a href="/console/campaigns/${jobId}" title="${jobId}">daily web_connectivity in Italy</a>`);
    expect(r.body).toMatch(/<span class="state state-notified">notified<\/span>/);
  });

  it("the overview counts active campaigns and lists them", async () => {
    const r = await get(admin, "/console");
    expect(r.body).toContain("1 active campaign, next run first");
    expect(r.body).toContain(`<a href="/console/campaigns/${jobId}">daily web_connectivity in Italy</a>`);
    expect(r.body).toContain("<title>active: 1 campaign</title>");
  });

  it("a viewer sees no create, pause or delete controls, and forged POSTs get the API's 403", async () => {
    const list = await get(viewer, "/console/campaigns");
    expect(list.body).not.toContain('href="/console/campaigns/new"');
    const form = await get(viewer, "/console/campaigns/new");
    expect(form.body).not.toContain('action="/console/campaigns/new"');
    expect(form.body).toContain("needs the operator role");
    const detail = await get(viewer, `/console/campaigns/${jobId}`);
    expect(detail.body).not.toMatch(/action="\/console\/campaigns\/[^"]+\/(pause|resume|delete)"/);
    const create = await post(viewer, "/console/campaigns/new", { ...VALID, comment: "viewer-made" });
    expect(create.status).toBe(403);
    expect(create.body).toContain("requires the operator role");
    const pause = await post(viewer, `/console/campaigns/${jobId}/pause`, {});
    expect(pause.status).toBe(403);
    expect(await jobCount()).toBe(1);
    expect((await env.DB.prepare("SELECT state FROM jobs WHERE id = ?").bind(jobId).first<{ state: string }>())!.state).toBe("active");
    // Without the session's CSRF token even an admin's POST is refused before the API is asked.
    expect((await post(admin, `/console/campaigns/${jobId}/pause`, {}, { csrf: "forged" })).status).toBe(403);
    expect((await post(admin, `/console/campaigns/${jobId}/pause`, {}, { origin: "https://evil.example" })).status).toBe(403);
  });

  it("pause, resume and delete go through the API and say so", async () => {
    const state = async () => (await env.DB.prepare("SELECT state FROM jobs WHERE id = ?").bind(jobId).first<{ state: string }>())!.state;
    const detail = await get(admin, `/console/campaigns/${jobId}`);
    expect(detail.body).toContain(`action="/console/campaigns/${jobId}/pause"`);
    expect(detail.body).not.toContain(`action="/console/campaigns/${jobId}/resume"`);
    const p = await post(admin, `/console/campaigns/${jobId}/pause`, {});
    expect(p.status).toBe(303);
    expect(p.headers.get("location")).toBe(`/console/campaigns/${jobId}?done=paused`);
    expect(await state()).toBe("paused");
    const paused = await get(admin, `/console/campaigns/${jobId}?done=paused`);
    expect(paused.body).toContain("Campaign paused.");
    expect(paused.body).toContain(`action="/console/campaigns/${jobId}/resume"`);
    const list = await get(admin, "/console/campaigns");
    const section = list.body.slice(list.body.indexOf('id="campaigns-paused"'), list.body.indexOf('id="finished-h"'));
    expect(section).toContain(jobId);
    expect((await post(admin, `/console/campaigns/${jobId}/resume`, {})).status).toBe(303);
    expect(await state()).toBe("active");
    expect((await post(admin, `/console/campaigns/${jobId}/delete`, {})).status).toBe(303);
    expect(await state()).toBe("deleted");
    const gone = await get(admin, `/console/campaigns/${jobId}?done=deleted`);
    expect(gone.body).toContain("Campaign deleted.");
    expect(gone.body).not.toContain(`/console/campaigns/${jobId}/pause"`);
    // A transition the API refuses is its 409, shown as a page.
    const refused = await post(admin, `/console/campaigns/${jobId}/resume`, {});
    expect(refused.status).toBe(409);
    expect(refused.body).toContain("cannot be resumed");
    const finished = await get(admin, "/console/campaigns");
    expect(finished.body.slice(finished.body.indexOf('id="campaigns-finished"'))).toContain(jobId);
  });

  it("unknown campaigns are 404 pages", async () => {
    for (const p of ["/console/campaigns/00000000-0000-4000-8000-000000000000", "/console/campaigns/nope"]) {
      const r = await get(admin, p);
      expect(r.status, p).toBe(404);
      expect(r.body).toContain("Page not found");
    }
  });
});

describe("console minions pages", () => {
  let admin: Browser;
  const id = "30a2a131-f812-4666-bb69-c443f7e3a901";
  beforeAll(async () => {
    admin = await consoleLogin();
  });

  it("an empty registry says so, with the empty fleet checksum", async () => {
    const r = await get(admin, "/console/minions");
    expect(r.status).toBe(200);
    expect(r.body).toContain("No minion is connected.");
    expect(r.body).toContain("d41d8cd98f00b204e9800998ecf8427e");
  });

  it("lists present minions with their checksum and times; the detail view shows the stored status JSON", async () => {
    const { shardOf } = await import("../../functions/minions/checksum");
    const status = JSON.stringify({ id, hostname: "pi-7", version: "1.2.3", os: { uptime: 5 } });
    await env.MINION_SHARD.getByName(shardOf(id)).upsert(id, 1, "0123456789abcdef0123456789abcdef", status, new Date().toISOString());
    const r = await get(admin, "/console/minions");
    expect(r.body).toContain(`<a href="/console/minions/${id}" class="mono" aria-label="Minion ${id}">${id}</a>`);
    expect(r.body).toContain("0123456789abcdef0123456789abcdef");
    expect(r.body).toMatch(/Minions present<\/dt><dd>1<\/dd>/);
    expect(r.body).not.toContain("d41d8cd98f00b204e9800998ecf8427e");
    expect(r.body).toMatch(/Non-empty buckets<\/dt><dd>1<\/dd>/);
    const d = await get(admin, `/console/minions/${id}`);
    expect(d.status).toBe(200);
    expect(d.body).toContain("&quot;hostname&quot;: &quot;pi-7&quot;");
    expect(d.body).toContain("minion.joined");
    expect((await get(admin, "/console/minions/00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await get(admin, "/console/minions/nope")).status).toBe(404);
  });
});
