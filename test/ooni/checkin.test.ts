import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, createOperator, probeSecret, registerProbe } from "../helpers";
import { checkInBody } from "./helpers";

const csv = (rows: string[]) => ["url,category_code,category_description,date_added,source,notes", ...rows].join("\n");
const importList = (token: string, country: string, text: string, q = "") =>
  call("POST", `/api/v1/admin/test-lists?country=${country}${q}`, { raw: text, token, headers: { "content-type": "text/csv" } });

describe("POST /api/v1/check-in", () => {
  let admin: string;
  beforeAll(async () => {
    admin = await adminToken();
  });

  it("answers a fresh database with URLs from the seeded global list, in OONI's shape", async () => {
    const r = await call("POST", "/api/v1/check-in", { json: checkInBody({ probe_cc: "FR", probe_asn: "AS3215" }) });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ v: 1, probe_cc: "FR", probe_asn: "AS3215", probe_network_name: null });
    expect(r.body.utc_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(r.body.conf.features).toEqual({ torsf_enabled: false, vanilla_tor_enabled: false, openvpn_enabled: false, "webconnectivity_0.5": true });
    const helpers = await call("GET", "/api/v1/test-helpers");
    expect(r.body.conf.test_helpers).toEqual(helpers.body);
    const wc = r.body.tests.web_connectivity;
    expect(wc.report_id).toMatch(/^\d{8}T\d{6}Z_webconnectivity_FR_3215_n1_[A-Za-z0-9]{16}$/);
    expect(wc.urls.length).toBeGreaterThan(0);
    expect(wc.urls.length).toBeLessThanOrEqual(20);
    for (const u of wc.urls) expect(Object.keys(u).sort()).toEqual(["category_code", "country_code", "url"]);
    expect(wc.urls.every((u: any) => u.country_code === "XX")).toBe(true);
  });

  it("serves the probe's country list first, then global, 20 URLs timed, 100 charging, all of them manual", async () => {
    const rows = Array.from({ length: 150 }, (_, i) => `https://it${i}.example/,${i % 2 ? "NEWS" : "HUMR"},,,,`);
    expect((await importList(admin, "IT", csv(rows))).status).toBe(200);
    const urls = async (over: Record<string, unknown>) =>
      (await call("POST", "/api/v1/check-in", { json: checkInBody(over) })).body.tests.web_connectivity.urls;
    const timed = await urls({});
    expect(timed).toHaveLength(20);
    expect(timed.every((u: any) => u.country_code === "IT")).toBe(true);
    expect(await urls({ charging: true })).toHaveLength(100);
    const manual = await urls({ run_type: "manual" });
    expect(manual.length).toBe(150 + 26);
    expect(manual.slice(0, 150).every((u: any) => u.country_code === "IT")).toBe(true);
  });

  it("filters by category codes sent as a list or as OONI's comma-separated string", async () => {
    const a = await call("POST", "/api/v1/check-in", { json: checkInBody({ run_type: "manual", web_connectivity: { category_codes: ["HUMR"] } }) });
    expect(a.body.tests.web_connectivity.urls.every((u: any) => u.category_code === "HUMR")).toBe(true);
    const b = await call("POST", "/api/v1/check-in", { json: checkInBody({ run_type: "manual", web_connectivity: { category_codes: "ANON,COMT" } }) });
    expect(new Set(b.body.tests.web_connectivity.urls.map((u: any) => u.category_code))).toEqual(new Set(["ANON", "COMT"]));
    const c = await call("POST", "/api/v1/check-in", { json: checkInBody({ web_connectivity: { category_codes: null } }) });
    expect(c.status).toBe(200);
  });

  it("fills OONI's defaults for a minimal body (miniooni's ZZ / AS0)", async () => {
    const r = await call("POST", "/api/v1/check-in", { json: {} });
    expect(r.status).toBe(200);
    expect(r.body.probe_cc).toMatch(/^[A-Z]{2}$/);
    expect(r.body.tests.web_connectivity.urls.length).toBeGreaterThan(0);
  });

  it("refuses bad input with 400 in the one envelope", async () => {
    for (const body of [
      checkInBody({ probe_cc: "Italy" }),
      checkInBody({ probe_asn: "1234" }),
      checkInBody({ run_type: "sometimes" }),
      checkInBody({ charging: "yes" }),
      checkInBody({ web_connectivity: { category_codes: ["NEWS;DROP"] } }),
    ]) {
      const r = await call("POST", "/api/v1/check-in", { json: body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.code).toBe("validation_failed");
    }
    expect((await call("POST", "/api/v1/check-in", { raw: "{", headers: { "content-type": "application/json" } })).status).toBe(400);
  });

  it("GET /api/v1/test-list/urls answers OONI's shape", async () => {
    const r = await call("GET", "/api/v1/test-list/urls?probe_cc=IT&category_codes=NEWS&limit=5");
    expect(r.status).toBe(200);
    expect(r.body.metadata).toMatchObject({ count: 5, current_page: -1, limit: -1, next_url: "", pages: 1 });
    expect(r.body.results.every((u: any) => u.category_code === "NEWS")).toBe(true);
  });
});

describe("test lists (admin)", () => {
  let admin: string;
  beforeAll(async () => {
    admin = await adminToken();
  });

  it("imports a Citizen Lab CSV for a country, replacing that country's list", async () => {
    const first = await importList(
      admin,
      "gr",
      csv(["https://a.gr/,NEWS,News Media,2020-01-01,citizenlab,", '"https://b.gr/?q=1,2",HUMR,,,,"note, with comma"']),
    );
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ country: "GR", imported: 2, replaced: 0, problems: [] });
    const second = await importList(admin, "GR", csv(["https://c.gr/,NEWS,,,,"]));
    expect(second.body).toMatchObject({ imported: 1, replaced: 2 });
    const list = await call("GET", "/api/v1/admin/test-lists/GR", { token: admin });
    expect(list.body.results.map((e: any) => e.url)).toEqual(["https://c.gr/"]);
    const all = await call("GET", "/api/v1/admin/test-lists", { token: admin });
    expect(all.body.lists.find((l: any) => l.country === "GR")).toMatchObject({ urls: 1, categories: 1 });
  });

  it("refuses a file with bad rows unless told to skip them, changing nothing", async () => {
    const bad = csv(["https://d.gr/,NEWS,,,,", "javascript:alert(1),NEWS,,,,"]);
    const r = await importList(admin, "GR", bad);
    expect(r.status).toBe(400);
    expect(r.body.details[0]).toEqual({ path: "line 3", message: expect.stringMatching(/http/) });
    expect((await call("GET", "/api/v1/admin/test-lists/GR", { token: admin })).body.results).toHaveLength(1);
    const skipped = await importList(admin, "GR", bad, "&skip_invalid=true");
    expect(skipped.body).toMatchObject({ imported: 1, problems: [{ line: 3 }] });
    expect((await importList(admin, "GR", "not,a,test,list\n")).status).toBe(400);
    expect((await importList(admin, "Greece", csv(["https://a.gr/,NEWS,,,,"]))).status).toBe(400);
  });

  it("imports the global list with country=global, served as XX", async () => {
    const r = await importList(admin, "global", csv(["https://global.example/,NEWS,,,,"]));
    expect(r.body).toMatchObject({ country: "XX", imported: 1, replaced: 26 });
    const c = await call("POST", "/api/v1/check-in", { json: checkInBody({ probe_cc: "BR", run_type: "manual" }) });
    expect(c.body.tests.web_connectivity.urls).toEqual([{ url: "https://global.example/", category_code: "NEWS", country_code: "XX" }]);
  });

  it("takes a list larger than MAX_BODY_BYTES (up to TEST_LIST_MAX_BYTES)", async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => `https://big${i}.example/some/long/path/to/make/it/bigger,NEWS,News Media,2020-01-01,citizenlab,`);
    const r = await importList(admin, "BR", csv(rows));
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    expect(r.body.imported).toBe(3000);
  });

  it("requires an operator to import and a viewer to read", async () => {
    const viewer = await createOperator("viewer");
    expect((await importList(viewer.token, "GR", csv(["https://x.gr/,NEWS,,,,"]))).status).toBe(403);
    expect((await call("POST", "/api/v1/admin/test-lists?country=GR", { raw: "x" })).status).toBe(401);
    expect((await call("GET", "/api/v1/admin/test-lists", { token: viewer.token })).status).toBe(200);
    expect((await call("GET", "/api/v1/admin/test-lists")).status).toBe(401);
    const probe = await registerProbe();
    expect((await call("GET", "/api/v1/admin/test-lists", { token: probe.token })).status).toBe(403);
  });
});

describe("fleet adoption at POST /api/v1/login", () => {
  const ooniId = () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const part = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b % 64]).join("");
    return `eyJ${part(33)}.${part(60)}.${part(34)}`;
  };

  it("adopts a 132-character client_id OONI's backend issued: the first login creates the probe, later ones check its secret", async () => {
    const id = ooniId();
    expect(id).toHaveLength(132);
    const password = probeSecret();
    const r = await call("POST", "/api/v1/login", { json: { username: id, password } });
    expect(r.status).toBe(200);
    expect(Date.parse(r.body.expire)).toBeGreaterThan(Date.now());
    const row = await env.DB.prepare("SELECT * FROM probes WHERE id = ?").bind(id).first<any>();
    expect(row).toMatchObject({ probe_cc: "ZZ", probe_asn: "AS0" });
    expect((await call("POST", "/api/v1/login", { json: { username: id, password } })).status).toBe(200);
    expect((await call("POST", "/api/v1/login", { json: { username: id, password: probeSecret() } })).status).toBe(401);
    const ev = await env.DB.prepare("SELECT type FROM events WHERE probe_id = ? ORDER BY id").bind(id).all<any>();
    // The wrong secret is recorded as a failed login of that probe (docs/security.md).
    expect(ev.results.map((e) => e.type)).toEqual(["probe.adopted", "auth.login_failed"]);
  });

  it("adopts an orchestra-era UUID client_id and accepts ids up to 1,024 characters, not longer", async () => {
    expect((await call("POST", "/api/v1/login", { json: { username: crypto.randomUUID(), password: probeSecret() } })).status).toBe(200);
    expect((await call("POST", "/api/v1/login", { json: { username: "a".repeat(1024), password: probeSecret() } })).status).toBe(200);
    expect((await call("POST", "/api/v1/login", { json: { username: "a".repeat(1025), password: probeSecret() } })).status).toBe(400);
  });

  it("never adopts an operator-shaped username, and never lets an operator take a client_id's shape", async () => {
    expect((await call("POST", "/api/v1/login", { json: { username: "someone-new", password: "whatever" } })).status).toBe(401);
    const r = await call("POST", "/api/v1/admin/operators", {
      json: { username: crypto.randomUUID().replace(/^./, "a"), password: "a long passphrase", role: "viewer" },
      token: await adminToken(),
    });
    expect(r.status).toBe(400);
  });
});
