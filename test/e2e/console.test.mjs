// The operator console in a real browser: Debian's chromium driven by playwright-core against `wrangler dev`.
// Screenshots of every page go to test-artifacts/console/*.png.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { launchChromium, shot, submitForm } from "./browser.mjs";
import { client, SECRETS, startWorker } from "./harness.mjs";

describe("operator console in Chromium (wrangler dev)", () => {
  let w;
  let call;
  let browser;
  let admin; // { context, page }
  let adminToken;
  const viewer = { username: "vera-viewer", password: "viewer password 123" };
  const probeIds = {};

  async function logIn(page, username, password) {
    await page.goto(`${w.url}/console/login`);
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForLoadState("load");
  }

  before(async () => {
    w = await startWorker();
    call = client(w.url);
    const login = await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } });
    adminToken = login.body.token;
    const fleet = [
      { probe_cc: "IT", probe_asn: "AS30722", platform: "android", network_type: "wifi" },
      { probe_cc: "IT", probe_asn: "AS3269", platform: "ios", network_type: "mobile" },
      { probe_cc: "GR", probe_asn: "AS6799", platform: "android", network_type: "mobile" },
      { probe_cc: "DE", probe_asn: "AS3320", platform: "linux", network_type: "wifi", software_name: "miniooni" },
      { probe_cc: "BR", probe_asn: "AS28573", platform: "android", network_type: "wifi" },
    ];
    for (const [i, p] of fleet.entries()) {
      const r = await call("POST", "/api/v1/register", {
        json: { software_name: "ooniprobe-android", software_version: "3.8.0", supported_tests: ["web_connectivity"], token: `fcm-${i}`, ...p },
      });
      assert.equal(r.status, 200);
      probeIds[p.probe_cc] = r.body.client_id;
    }
    const v = await call("POST", "/api/v1/admin/operators", { token: adminToken, json: { ...viewer, role: "viewer" } });
    assert.equal(v.status, 201);

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    admin = { context, page: await context.newPage() };
  });

  after(async () => {
    await browser?.close();
    await w?.stop();
  });

  it("login: anonymous visitors are sent to login; a wrong password shows an error; the right one opens the overview", async () => {
    const { page, context } = admin;
    await page.goto(`${w.url}/console/probes`);
    assert.match(page.url(), /\/console\/login\?next=%2Fconsole%2Fprobes$/);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForLoadState("load");
    const alert = page.getByRole("alert");
    assert.match(await alert.innerText(), /Wrong username or password/);
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains("error-summary")), true, "the error summary takes focus");
    await shot(page, "login-error");

    await page.getByLabel("Password").fill(SECRETS.ADMIN_PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL(/\/console\/probes$/);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "__Host-eo_session");
    assert.ok(session, "session cookie set");
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, "Lax");
    assert.equal(session.path, "/");
    assert.equal(await page.evaluate(() => document.cookie.includes("eo_session")), false, "scripts cannot read the session");
  });

  it("overview: SVG charts with tooltips and tables of the same numbers", async () => {
    const { page } = admin;
    await page.goto(`${w.url}/console`);
    assert.equal(await page.getByRole("heading", { level: 1 }).innerText(), "Overview");
    assert.ok((await page.locator("svg.chart-svg").count()) >= 5);
    const tips = await page.locator("#by-country-title ~ svg title, figure[aria-labelledby='by-country-title'] svg title").allTextContents();
    assert.ok(tips.includes("IT: 2 probes"), JSON.stringify(tips));
    await page.locator("figure[aria-labelledby='by-platform-title'] summary").click();
    const row = page.locator("#by-platform-table tr", { hasText: "android" });
    assert.match(await row.innerText(), /android\s+3/);
    assert.match(await page.locator(".stats").innerText(), /Registered probes\s+5/);
    await shot(page, "overview");
  });

  it("probes: filter by country, page the table, open a probe's detail page", async () => {
    const { page } = admin;
    await page.goto(`${w.url}/console/probes`);
    assert.equal(await page.locator("#probes tbody tr").count(), 5);
    await page.getByLabel("Country").fill("IT");
    await page.getByLabel("Network type").fill("mobile");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/country=IT/);
    assert.equal(await page.locator("#probes tbody tr").count(), 1);
    assert.match(await page.getByRole("status").innerText(), /1 probe matches/);
    await shot(page, "probes-filtered");

    await page.goto(`${w.url}/console/probes?country=Italy`);
    assert.match(await page.locator("#f-country-error").innerText(), /two-letter country code/);
    assert.equal(await page.getByLabel("Country").getAttribute("aria-invalid"), "true");
    await shot(page, "probes-invalid-filter");

    await page.goto(`${w.url}/console/probes?country=GR`);
    await page.getByRole("link", { name: `Probe ${probeIds.GR}` }).click();
    await page.waitForURL(new RegExp(`/console/probes/${probeIds.GR}$`));
    assert.match(await page.getByRole("heading", { level: 1 }).innerText(), new RegExp(probeIds.GR));
    assert.match(await page.locator("#history").innerText(), /register/);
    assert.match(await page.locator("#probe-events").innerText(), /probe\.registered/);
    await shot(page, "probe-detail");
  });

  it("operators: the form shows the API's validation errors next to each field, then creates the account", async () => {
    const { page } = admin;
    await page.goto(`${w.url}/console/operators`);
    await page.getByLabel("Username").fill("x y");
    await page.getByLabel("Password", { exact: true }).fill("short");
    await page.getByRole("button", { name: "Create operator" }).click();
    await page.waitForLoadState("load");
    assert.match(await page.locator("#f-username-error").innerText(), /must be 3-64 characters/);
    assert.match(await page.locator("#f-password-error").innerText(), /at least 12 characters/);
    assert.equal(await page.getByLabel("Username").getAttribute("aria-invalid"), "true");
    assert.equal(await page.getByLabel("Username").inputValue(), "x y", "what was typed is kept");
    assert.equal(await page.getByLabel("Password", { exact: true }).inputValue(), "", "the password is never sent back");
    await shot(page, "operators-invalid");

    await page.getByLabel("Username").fill("olga");
    await page.getByLabel("Password", { exact: true }).fill("a long enough password");
    await page.getByLabel("Role").selectOption("operator");
    await page.getByRole("button", { name: "Create operator" }).click();
    await page.waitForURL(/created=olga/);
    assert.match(await page.getByRole("status").innerText(), /Operator olga created/);
    assert.match(await page.locator("#operators").innerText(), /olga\s+operator/);
    await shot(page, "operators");
    const list = await call("GET", "/api/v1/admin/operators", { token: adminToken });
    assert.ok(list.body.operators.some((o) => o.username === "olga" && o.role === "operator"));
  });

  it("events: filtered history", async () => {
    const { page } = admin;
    await page.goto(`${w.url}/console/events`);
    await page.getByLabel("Event type").fill("operator.*");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/type=operator/);
    const text = await page.locator("#events").innerText();
    assert.match(text, /operator\.created/);
    assert.doesNotMatch(text, /probe\.registered/);
    await shot(page, "events");
  });

  it("a POST without a valid CSRF token is refused and changes nothing", async () => {
    const { page } = admin;
    await page.goto(`${w.url}/console/operators`);
    const fields = { username: "csrf-less", password: "a long enough password", role: "admin" };
    const statuses = [await submitForm(page, "/console/operators", fields)];
    assert.match(await page.getByRole("alert").innerText(), /security token/);
    await shot(page, "csrf-refused");
    await page.goto(`${w.url}/console/operators`);
    statuses.push(await submitForm(page, "/console/operators", { ...fields, _csrf: "forged-token" }));
    assert.deepEqual(statuses, [403, 403]);
    const list = await call("GET", "/api/v1/admin/operators", { token: adminToken });
    assert.ok(!list.body.operators.some((o) => o.username === "csrf-less"));
  });

  it("a viewer sees no create or disable controls, and a forged POST from the viewer's session gets 403", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      await logIn(page, viewer.username, viewer.password);
      assert.match(page.url(), /\/console$/);
      await page.goto(`${w.url}/console/operators`);
      assert.equal(await page.locator("form[action='/console/operators']").count(), 0);
      assert.equal(await page.getByRole("button", { name: /Create|Disable/ }).count(), 0);
      assert.match(await page.locator("main").innerText(), /Only admins/);
      await shot(page, "operators-viewer");
      // The viewer's own valid CSRF token (from the logout form), so only the role can refuse it.
      const csrf = await page.locator("input[name=_csrf]").first().inputValue();
      const status = await submitForm(page, "/console/operators", { _csrf: csrf, username: "viewer-made", password: "a long enough password", role: "admin" });
      assert.match(await page.getByRole("alert").innerText(), /requires the admin role/);
      assert.equal(status, 403);
      const list = await call("GET", "/api/v1/admin/operators", { token: adminToken });
      assert.ok(!list.body.operators.some((o) => o.username === "viewer-made"));
    } finally {
      await context.close();
    }
  });

  it("keyboard and phone: the skip link comes first and moves focus to main; nothing scrolls sideways on a phone", async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    try {
      await logIn(page, "admin", SECRETS.ADMIN_PASSWORD);
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to main content");
      await page.keyboard.press("Enter");
      assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
      for (const [p, name] of [
        ["/console", "overview-phone"],
        ["/console/probes", "probes-phone"],
        [`/console/probes/${probeIds.IT}`, "probe-detail-phone"],
      ]) {
        await page.goto(`${w.url}${p}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${p} overflows by ${overflow}px`);
        await shot(page, name);
      }
    } finally {
      await context.close();
    }
  });

  it("logout ends the session", async () => {
    const { page, context } = admin;
    await page.goto(`${w.url}/console`);
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/console\/login\?reason=logged-out$/);
    assert.match(await page.getByRole("status").innerText(), /You have logged out/);
    await shot(page, "logged-out");
    assert.equal(
      (await context.cookies()).some((c) => c.name === "__Host-eo_session"),
      false,
    );
    await page.goto(`${w.url}/console/operators`);
    assert.match(page.url(), /\/console\/login/);
  });
});
