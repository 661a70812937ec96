// Campaign and minion pages of the operator console in a real browser: Debian's chromium driven by playwright-core
// against `wrangler dev` (real cron handler, Durable Objects and a simulated stormflash agent over a WebSocket).
// Screenshots go to test-artifacts/console/*.png.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { launchChromium, logInThroughForm, shot, submitForm } from "./browser.mjs";
import { StormflashAgent } from "../../tools/agent-sim.mjs";
import { client, eventually, SECRETS, startWorker } from "./harness.mjs";

describe("console campaigns and minions in Chromium (wrangler dev)", () => {
  let w;
  let call;
  let browser;
  let page; // the admin's
  let adminToken;
  let agent;
  let created; // the campaign made through the form
  const viewer = { username: "vic-viewer", password: "viewer password 123" };
  const probeIds = {};

  const jobState = async (id) => (await call("GET", `/api/v1/admin/job/${id}`, { token: adminToken })).body.state;

  const logIn = (p, username, password) => logInThroughForm(p, w.url, username, password);

  before(async () => {
    w = await startWorker({ vars: { MONITOR_INTERVAL_MS: "60000" } });
    call = client(w.url);
    adminToken = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
    const fleet = [
      { probe_cc: "IT", probe_asn: "AS30722", platform: "android", network_type: "wifi" },
      { probe_cc: "IT", probe_asn: "AS3269", platform: "ios", network_type: "mobile" },
      { probe_cc: "GR", probe_asn: "AS6799", platform: "android", network_type: "mobile" },
      { probe_cc: "DE", probe_asn: "AS3320", platform: "linux", network_type: "wifi" },
    ];
    for (const [i, p] of fleet.entries()) {
      const r = await call("POST", "/api/v1/register", {
        json: { software_name: "ooniprobe-android", software_version: "3.8.0", supported_tests: ["web_connectivity", "dnscheck"], token: `fcm-${i}`, ...p },
      });
      assert.equal(r.status, 200);
      probeIds[`${p.probe_cc}${i}`] = r.body.client_id;
    }
    assert.equal((await call("POST", "/api/v1/admin/operators", { token: adminToken, json: { ...viewer, role: "viewer" } })).status, 201);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await logIn(page, "admin", SECRETS.ADMIN_PASSWORD);
  });

  after(async () => {
    agent?.close();
    await browser?.close();
    await w?.stop();
  });

  it("the form refuses an invalid schedule next to the field, previews a valid one with its reach, then creates the campaign", async () => {
    await page.goto(`${w.url}/console/campaigns`);
    await page.getByRole("link", { name: "New campaign" }).click();
    await page.waitForURL(/\/console\/campaigns\/new$/);
    await page.getByLabel("Name").fill("Daily web_connectivity in Italy");
    await page.getByLabel("Schedule").fill("R/2026-02-30T06:00:00Z/P1D");
    await page.getByLabel("Test", { exact: true }).fill("web_connectivity");
    await page.getByLabel("Countries").selectOption(["IT"]);
    const platforms = page.getByRole("group", { name: /Platforms/ });
    await platforms.getByRole("checkbox", { name: /^android/ }).check();
    await platforms.getByRole("checkbox", { name: /^ios/ }).check();
    await page.getByRole("button", { name: "Create campaign" }).click();
    await page.waitForLoadState("load");
    assert.match(await page.locator("#f-schedule-error").innerText(), /no such date or time/);
    assert.equal(await page.getByLabel("Schedule").getAttribute("aria-invalid"), "true");
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains("error-summary")), true, "the error summary takes focus");
    assert.equal(await page.getByLabel("Name").inputValue(), "Daily web_connectivity in Italy", "what was typed is kept");
    assert.deepEqual(await page.getByLabel("Countries").evaluate((s) => [...s.selectedOptions].map((o) => o.value)), ["IT"]);
    assert.equal((await call("GET", "/api/v1/admin/jobs", { token: adminToken })).body.jobs.length, 0, "nothing was created");
    await shot(page, "campaign-new-invalid-schedule");

    await page.getByLabel("Schedule").fill("R/2026-01-01T06:00:00Z/P1D");
    await page.getByRole("button", { name: "Preview" }).click();
    await page.waitForLoadState("load");
    assert.match(await page.locator("#schedule-preview").innerText(), /Every day, forever, from 2026-01-01 06:00 UTC[\s\S]*06:00 UTC/);
    assert.equal(await page.locator("#schedule-preview li").count(), 5);
    const reach = await page.locator("#dry-run .stats").innerText();
    assert.match(reach, /Targeted probes\s+2/);
    assert.match(reach, /With a live push token\s+2/);
    assert.equal((await call("GET", "/api/v1/admin/jobs", { token: adminToken })).body.jobs.length, 0, "a preview creates nothing");
    await shot(page, "campaign-new-preview");

    await page.getByRole("button", { name: "Create campaign" }).click();
    await page.waitForURL(/\/console\/campaigns\/[0-9a-f-]{36}\?done=created$/);
    created = /campaigns\/([0-9a-f-]{36})/.exec(page.url())[1];
    assert.match(await page.getByRole("status").innerText(), /Campaign created/);
    assert.match(await page.getByRole("heading", { level: 1 }).innerText(), /Daily web_connectivity in Italy\s+active/);
    assert.equal(await page.locator("#next-runs li").count(), 5);
    await shot(page, "campaign-detail-new");
  });

  it("the campaign is listed as active with its next run", async () => {
    await page.goto(`${w.url}/console/campaigns`);
    const row = page.locator("#campaigns-active tbody tr", { hasText: "Daily web_connectivity in Italy" });
    assert.equal(await row.count(), 1);
    const next = await row.locator("time").first().getAttribute("datetime");
    assert.match(next, /^\d{4}-\d\d-\d\dT06:00:00\.000Z$/);
    assert.ok(Date.parse(next) > Date.now());
    assert.match(await row.innerText(), /task: web_connectivity/);
    await shot(page, "campaigns");
  });

  it("pause and resume from the detail page", async () => {
    await page.goto(`${w.url}/console/campaigns/${created}`);
    await page.getByRole("button", { name: "Pause" }).click();
    await page.waitForURL(/done=paused$/);
    assert.match(await page.getByRole("status").innerText(), /Campaign paused/);
    assert.equal(await jobState(created), "paused");
    await shot(page, "campaign-paused");
    await page.getByRole("button", { name: "Resume" }).click();
    await page.waitForURL(/done=resumed$/);
    assert.equal(await jobState(created), "active");
  });

  it("a run shows as tasks by state on the detail page, and on the probe's page with a link to the campaign", async () => {
    const r = await call("POST", "/api/v1/admin/job", {
      token: adminToken,
      json: { schedule: "R1//PT1M", comment: "one run now", task: { test_name: "dnscheck", arguments: {} }, target: { countries: ["GR"] } },
    });
    assert.equal(r.status, 200);
    const id = r.body.id;
    await eventually(async () => {
      await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`);
      const d = await call("GET", `/api/v1/admin/job/${id}`, { token: adminToken });
      return d.body.runs.length === 1 && Object.values(d.body.task_counts).reduce((a, b) => a + b, 0) === 1;
    }, "the run and its task");
    await page.goto(`${w.url}/console/campaigns/${id}`);
    assert.equal(await page.locator("#runs tbody tr").count(), 1);
    assert.match(await page.locator("#runs tbody tr").innerText(), /#1[\s\S]*dispatch/);
    assert.ok(
      (await page
        .locator("figure[aria-labelledby='run-progress-title'] svg rect.seg-0, figure[aria-labelledby='run-progress-title'] svg rect[class^='seg-']")
        .count()) >= 1,
    );
    await page.locator("figure[aria-labelledby='run-progress-title'] summary").click();
    assert.match(await page.locator("#run-progress-table tbody tr").innerText(), /#1/);
    await shot(page, "campaign-detail-run");

    await page.goto(`${w.url}/console/probes/${probeIds.GR2}`);
    const task = page.locator("#tasks tbody tr", { hasText: "dnscheck" });
    assert.equal(await task.count(), 1);
    await task.getByRole("link", { name: "one run now" }).click();
    await page.waitForURL(new RegExp(`/console/campaigns/${id}$`));
    await page.goto(`${w.url}/console/probes/${probeIds.GR2}`);
    await shot(page, "probe-detail-tasks");
  });

  it("a viewer sees no create, pause or delete controls, and a forged POST is refused", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await context.newPage();
    try {
      await logIn(p, viewer.username, viewer.password);
      await p.goto(`${w.url}/console/campaigns`);
      assert.equal(await p.getByRole("link", { name: "New campaign" }).count(), 0);
      await p.goto(`${w.url}/console/campaigns/${created}`);
      assert.equal(await p.getByRole("button", { name: /Pause|Resume|Delete/ }).count(), 0);
      await shot(p, "campaign-detail-viewer");
      await p.goto(`${w.url}/console/campaigns/new`);
      assert.equal(await p.locator("form[action='/console/campaigns/new']").count(), 0);
      const csrf = await p.locator("input[name=_csrf]").first().inputValue();
      const status = await submitForm(p, `/console/campaigns/${created}/pause`, { _csrf: csrf });
      assert.equal(status, 403);
      assert.match(await p.getByRole("alert").innerText(), /requires the operator role/);
      assert.equal(await jobState(created), "active");
      await p.goto(`${w.url}/console/campaigns/new`);
      const made = await submitForm(p, "/console/campaigns/new", {
        _csrf: csrf,
        intent: "create",
        kind: "task",
        comment: "viewer-made",
        schedule: "R1//PT1M",
        test_name: "dnscheck",
      });
      assert.equal(made, 403);
      assert.ok(!(await call("GET", "/api/v1/admin/jobs", { token: adminToken })).body.jobs.some((j) => j.comment === "viewer-made"));
    } finally {
      await context.close();
    }
  });

  it("the minions page lists a connected agent with its checksum; its detail view shows the stored status", async () => {
    agent = await StormflashAgent.register(w.url);
    await agent.connect();
    await eventually(async () => (await call("GET", "/minions", { token: adminToken })).body.length === 1, "the agent to appear");
    await page.goto(`${w.url}/console/minions`);
    assert.match(await page.locator(".stats").innerText(), /Minions present\s+1/);
    const sum = await call("GET", `/minions/${agent.id}`, { token: adminToken });
    const row = page.locator("#minions tbody tr");
    assert.match(await row.innerText(), new RegExp(sum.headers.get("content-md5")));
    assert.equal(await page.locator("#fleet-checksum").innerText(), (await call("GET", "/minions/buckets", { token: adminToken })).body.checksum);
    await shot(page, "minions");
    await row.getByRole("link", { name: `Minion ${agent.id}` }).click();
    await page.waitForURL(new RegExp(`/console/minions/${agent.id}$`));
    const status = JSON.parse(await page.locator("#minion-status").innerText());
    assert.equal(status.id, agent.id);
    assert.deepEqual(status.packages, agent.status.packages);
    await shot(page, "minion-detail");
  });

  it("on a phone the campaign pages do not scroll sideways", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const p = await context.newPage();
    try {
      await logIn(p, "admin", SECRETS.ADMIN_PASSWORD);
      for (const [u, name] of [
        ["/console/campaigns", "campaigns-phone"],
        ["/console/campaigns/new", "campaign-new-phone"],
        [`/console/campaigns/${created}`, "campaign-detail-phone"],
        ["/console/minions", "minions-phone"],
      ]) {
        await p.goto(`${w.url}${u}`);
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${u} overflows by ${overflow}px`);
        await shot(p, name);
      }
    } finally {
      await context.close();
    }
  });
});
