// The console's OONI test-lists page in a real browser: Debian's chromium driven by playwright-core against
// `wrangler dev`. Lists, a refused import with its errors next to the fields, a pasted and an uploaded import, one
// list's pages, check-in serving what was imported, and a viewer's forged import. Screenshots: test-artifacts/console/.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { launchChromium, logInThroughForm, shot, submitForm } from "./browser.mjs";
import { client, SECRETS, startWorker } from "./harness.mjs";

const HEADER = "url,category_code,category_description,date_added,source,notes";
const row = (i, cat = "NEWS") => `https://site-${String(i).padStart(3, "0")}.example.br/,${cat},News Media,2026-12-01,e2e,`;

describe("console test lists in Chromium (wrangler dev)", () => {
  let w;
  let call;
  let browser;
  let page; // the admin's
  let adminToken;
  const viewer = { username: "tess-viewer", password: "viewer password 123" };

  const logIn = (p, username, password) => logInThroughForm(p, w.url, username, password);

  before(async () => {
    w = await startWorker();
    call = client(w.url);
    adminToken = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
    assert.equal((await call("POST", "/api/v1/admin/operators", { token: adminToken, json: { ...viewer, role: "viewer" } })).status, 201);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await logIn(page, "admin", SECRETS.ADMIN_PASSWORD);
  });

  after(async () => {
    await browser?.close();
    await w?.stop();
  });

  it("the nav leads to the lists; the seeded global list is there", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Test lists" }).click();
    await page.waitForURL(/\/console\/test-lists$/);
    assert.equal(await page.getByRole("heading", { level: 1 }).innerText(), "Test lists");
    const global = page.locator("#test-lists tbody tr", { has: page.getByRole("link", { name: "global" }) });
    assert.equal(await global.locator("td").first().innerText(), "26");
    assert.match(await global.locator("td").nth(1).innerText(), /NEWS/);
    await shot(page, "test-lists");
  });

  it("a bad country and a bad row are shown next to their fields, keeping what was pasted; nothing is imported", async () => {
    await page.getByLabel("Country", { exact: true }).fill("Brazil");
    await page.getByLabel("Test list (CSV)").fill([HEADER, row(1), "gopher://old.example/,NEWS,News,2026-12-01,x,"].join("\n"));
    await page.getByRole("button", { name: "Import list" }).click();
    await page.waitForLoadState("load");
    assert.match(await page.locator("#f-country-error").innerText(), /two-letter country code/);
    assert.equal(await page.getByLabel("Country", { exact: true }).getAttribute("aria-invalid"), "true");
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains("error-summary")), true, "the error summary takes focus");
    assert.match(await page.getByLabel("Test list (CSV)").inputValue(), /gopher:\/\/old\.example/);
    await shot(page, "test-lists-invalid");
    await page.getByLabel("Country", { exact: true }).fill("BR");
    await page.getByRole("button", { name: "Import list" }).click();
    await page.waitForLoadState("load");
    assert.match(await page.locator("#f-csv-error").innerText(), /line 3/);
    assert.equal((await call("GET", "/api/v1/admin/test-lists/BR", { token: adminToken })).body.results.length, 0);
  });

  it("an uploaded file is imported through the API, listed, paged, and served by check-in", async () => {
    const csv = [HEADER, ...Array.from({ length: 120 }, (_, i) => row(i, i % 2 ? "NEWS" : "HUMR"))].join("\n");
    await page.getByLabel("Country", { exact: true }).fill("br");
    await page.getByLabel("Test list (CSV)").fill("");
    await page.getByLabel("Or a CSV file").setInputFiles({ name: "br.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.getByRole("button", { name: "Import list" }).click();
    await page.waitForURL(/\/console\/test-lists\?imported=BR/);
    assert.equal(await page.getByRole("status").innerText(), "Test list BR imported: 120 URLs.");
    await page.getByRole("link", { name: "BR", exact: true }).click();
    await page.waitForURL(/\/console\/test-lists\/BR$/);
    assert.match(await page.locator("#test-list-urls-caption").innerText(), /URLs 1–100 of 120/);
    await shot(page, "test-list-br");
    await page.getByRole("link", { name: "Next page" }).click();
    await page.waitForURL(/page=2$/);
    assert.equal(await page.locator("#test-list-urls tbody tr").count(), 20);
    const checkin = await call("POST", "/api/v1/check-in", {
      json: {
        charging: false,
        on_wifi: true,
        platform: "android",
        probe_asn: "AS28573",
        probe_cc: "BR",
        run_type: "timed",
        software_name: "ooniprobe-android",
        software_version: "3.8.0",
        web_connectivity: { category_codes: ["HUMR"] },
      },
    });
    assert.equal(checkin.status, 200);
    const br = checkin.body.tests.web_connectivity.urls.filter((u) => u.country_code === "BR");
    assert.ok(br.length > 0 && br.every((u) => u.category_code === "HUMR" && /example\.br/.test(u.url)), JSON.stringify(checkin.body.tests));
  });

  it("a viewer reads the lists but gets no form, and a forged import is refused with 403", async () => {
    const vctx = await browser.newContext();
    const vpage = await vctx.newPage();
    await logIn(vpage, viewer.username, viewer.password);
    await vpage.goto(`${w.url}/console/test-lists`);
    assert.equal(await vpage.getByRole("link", { name: "BR", exact: true }).count(), 1);
    assert.equal(await vpage.getByRole("button", { name: "Import list" }).count(), 0);
    const csrf = await vpage.locator('input[name="_csrf"]').first().getAttribute("value");
    const status = await submitForm(vpage, "/console/test-lists", { _csrf: csrf, country: "BR", csv: `${HEADER}\n${row(999)}` });
    assert.equal(status, 403);
    assert.match(await vpage.locator("main").innerText(), /requires the operator role/);
    assert.equal((await call("GET", "/api/v1/admin/test-lists/BR", { token: adminToken })).body.results.length, 120, "nothing changed");
    await vctx.close();
  });
});
