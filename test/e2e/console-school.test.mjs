// The school page of the operator console in a real browser: Debian's chromium driven by playwright-core against
// `wrangler dev`. A laptop registers and activates over HTTP as Sugar and the relay would; an operator finds it by
// serial, marks it stolen and clears it, asks every client to re-register and downloads the offline bundle; a
// viewer sees no controls and a forged POST is refused. Screenshots go to test-artifacts/console/school-*.png.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { importJWK, jwtVerify } from "jose";
import { launchChromium, logInThroughForm, shot, submitForm } from "./browser.mjs";
import { client, ROOT, SECRETS, startWorker } from "./harness.mjs";

/** The development lease keys, from the committed .dev.vars.example. */
function leaseKeys() {
  const text = readFileSync(path.join(ROOT, ".dev.vars.example"), "utf8");
  return Object.fromEntries([...text.matchAll(/^(LEASE_[A-Z_]+)='(.*)'$/gm)].map((m) => [m[1], m[2]]));
}

describe("console school page in Chromium (wrangler dev)", () => {
  let w;
  let call;
  let browser;
  let page; // the operator's
  let adminToken;
  const laptop = { serial: "SHC0CA5E0A1", uuid: "0d6f1c2e-7a1b-11ee-8c90-0242ac120002", nickname: "Bea" };
  const other = { serial: "SHC0CA5F0B2", uuid: "1e7a2d3f-7a1b-11ee-8c90-0242ac120003" };
  const op = { username: "olga-operator", password: "operator password 123" };
  const viewer = { username: "vic-viewer", password: "viewer password 123" };

  const activate = async (serial) => {
    const res = await fetch(`${w.url}/activation`, { method: "POST", headers: { "content-type": "text/plain" }, body: `${serial}\n` });
    return res.text();
  };
  const row = (p, serial) => p.locator("#machines tbody tr").filter({ has: p.getByRole("rowheader", { name: serial }) });

  const logIn = (p, username, password) => logInThroughForm(p, w.url, username, password);

  before(async () => {
    w = await startWorker({ vars: leaseKeys() });
    call = client(w.url);
    adminToken = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
    for (const who of [
      { ...op, role: "operator" },
      { ...viewer, role: "viewer" },
    ]) {
      assert.equal((await call("POST", "/api/v1/admin/operators", { token: adminToken, json: who })).status, 201);
    }
    const reg = await call("POST", "/client/register", { json: { uuid: laptop.uuid, nickname: laptop.nickname, serial: laptop.serial } });
    assert.equal(reg.status, 200);
    assert.equal((await call("POST", "/api/v1/admin/school/machines", { token: adminToken, json: { machines: [other] } })).status, 200);
    assert.match(await activate(laptop.serial), /^act01: /);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })).newPage();
    await logIn(page, op.username, op.password);
  });

  after(async () => {
    await browser?.close();
    await w?.stop();
  });

  it("the School entry of the navigation lists the laptop with its user, a valid lease until its expiry, and when it was seen", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "School" }).click();
    await page.waitForURL(/\/console\/school$/);
    assert.equal(await page.getByRole("heading", { level: 1 }).innerText(), "School server");
    const r = row(page, laptop.serial);
    assert.equal(await r.count(), 1);
    const text = await r.innerText();
    assert.match(text, /Bea/);
    assert.match(text, /valid/);
    assert.match(text, /server key/);
    const api = (await call("GET", `/api/v1/admin/school/machines?serial=${laptop.serial}`, { token: adminToken })).body.results[0];
    assert.equal(await r.locator("time").first().getAttribute("datetime"), api.lease_expires_at);
    assert.equal(await r.locator("time").last().getAttribute("datetime"), api.last_seen_at);
    assert.match(await row(page, other.serial).innerText(), /imported, no user[\s\S]*none/);
    await shot(page, "school-machines");
  });

  it("the serial filter narrows the list to the serials that start with what was typed", async () => {
    await page.getByLabel("Serial", { exact: true }).fill(laptop.serial.slice(0, 8).toLowerCase());
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/serial=/);
    assert.equal(await row(page, laptop.serial).count(), 1);
    assert.equal(await row(page, other.serial).count(), 0);
    await page.getByLabel("Serial", { exact: true }).fill("no such!");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForLoadState("load");
    assert.equal(await page.getByLabel("Serial", { exact: true }).getAttribute("aria-invalid"), "true");
    assert.match(await page.locator("#f-serial-error").innerText(), /beginning/);
  });

  it("marking the laptop stolen from its row shows it stolen and the activation service answers STOLEN; clearing it leases again", async () => {
    await page.goto(`${w.url}/console/school`);
    await row(page, laptop.serial)
      .getByRole("button", { name: `Mark ${laptop.serial} stolen` })
      .click();
    await page.waitForURL(/done=stolen/);
    assert.match(await page.getByRole("status").innerText(), new RegExp(`${laptop.serial} marked stolen`));
    assert.match(await row(page, laptop.serial).innerText(), /stolen since/);
    assert.equal(await activate(laptop.serial), "STOLEN\n");
    await shot(page, "school-stolen");
    await row(page, laptop.serial)
      .getByRole("button", { name: `Clear stolen ${laptop.serial}` })
      .click();
    await page.waitForURL(/done=cleared/);
    assert.match(await page.getByRole("status").innerText(), /no longer stolen/);
    assert.match(await activate(laptop.serial), /^act01: /);
    await page.goto(`${w.url}/console/school`);
    assert.match(await row(page, laptop.serial).innerText(), /valid/);
  });

  it("asking every client to re-register changes the stamp the laptop sees", async () => {
    const before = (await call("GET", `/client/status?uuid=${laptop.uuid}`)).body.stamp;
    await page.goto(`${w.url}/console/school`);
    assert.equal(await page.locator("#school-stamp").innerText(), before);
    await page.getByText("Ask every client to re-register…").click();
    await page.getByRole("button", { name: "Ask every client to re-register" }).click();
    await page.waitForURL(/done=stamp/);
    const after = (await call("GET", `/client/status?uuid=${laptop.uuid}`)).body.stamp;
    assert.notEqual(after, before);
    assert.equal(await page.locator("#school-stamp").innerText(), after);
  });

  it("downloads the offline bundle, whose lease verifies with the bundled keys", async () => {
    await page.goto(`${w.url}/console/school`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: /offline bundle/ }).click()]);
    assert.match(download.suggestedFilename(), /^school-bundle-\d{4}-\d\d-\d\d\.json$/);
    const bundle = JSON.parse(readFileSync(await download.path(), "utf8"));
    const entry = bundle.leases.find((l) => l.serial === laptop.serial);
    assert.ok(entry, "the laptop's lease is in the bundle");
    const server = bundle.jwks.keys.find((k) => k.role === "server");
    const { payload } = await jwtVerify(entry.lease, await importJWK(server, "ES256"), { typ: "olpc-lease+jwt" });
    assert.deepEqual([payload.sn, payload.uuid, payload.exp * 1000 > Date.now()], [laptop.serial, laptop.uuid, true]);
    assert.ok(!bundle.stolen.includes(laptop.serial), "the laptop was cleared: not on the stolen list");
  });

  it("a viewer sees the machines but no action controls, and a forged stolen POST gets 403 and changes nothing", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await context.newPage();
    try {
      await logIn(p, viewer.username, viewer.password);
      await p.goto(`${w.url}/console/school`);
      assert.equal(await row(p, laptop.serial).count(), 1);
      assert.equal(await p.getByRole("button", { name: /stolen|re-register|Import/i }).count(), 0);
      assert.equal(await p.locator("form[method=post][action^='/console/school']").count(), 0);
      assert.equal(await p.getByRole("link", { name: /offline bundle/ }).count(), 1, "viewers may still download the bundle");
      await shot(p, "school-viewer");
      const csrf = await p.locator("input[name=_csrf]").first().inputValue();
      const status = await submitForm(p, "/console/school/stolen", { _csrf: csrf, serial: laptop.serial });
      assert.equal(status, 403);
      assert.match(await p.getByRole("alert").innerText(), /requires the operator role/);
      assert.match(await activate(laptop.serial), /^act01: /);
    } finally {
      await context.close();
    }
  });
});
