import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Browser, call, consoleSessions, get, post } from "../console/helpers";
import { call as apiCall } from "../helpers";
import { checkInBody } from "./helpers";

const HEADER = "url,category_code,category_description,date_added,source,notes";
const csvOf = (rows: string[]) => [HEADER, ...rows].join("\n");
const row = (i: number, cat = "NEWS") => `https://news-${String(i).padStart(3, "0")}.example.it/,${cat},News Media,2026-12-01,console test,`;
const countOf = async (cc: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM test_list_urls WHERE country_code = ?").bind(cc).first<{ n: number }>())!.n;

/** A multipart form as a browser posts one with a file input (the file wins over the text area). */
function upload(b: Browser, fields: Record<string, string>, file?: { name: string; text: string }) {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  fd.append("_csrf", b.csrf);
  if (file) fd.append("file", new File([file.text], file.name, { type: "text/csv" }));
  return call("POST", "/console/test-lists", { raw: fd, headers: { cookie: b.cookie, origin: "https://probes.example.org" } });
}

describe("console test lists", () => {
  let admin: Browser;
  let operator: Browser;
  let viewer: Browser;
  beforeAll(async () => {
    ({ admin, operator, viewer } = await consoleSessions("operator", "viewer"));
  });

  it("lists each imported list with its URL count, categories and import time, under its own nav entry", async () => {
    const r = await get(admin, "/console/test-lists");
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/aria-current="page">Test lists</);
    expect(r.body.match(/<h1>/g)).toHaveLength(1);
    // The seeded global list (migrations/0007_ooni_seed.sql): 26 URLs in 11 categories.
    expect(r.body).toContain('<th scope="row"><a href="/console/test-lists/global">global</a></th><td class="num">26</td>');
    expect(r.body).toContain("<td>ANON, COMT, CULTR, GOVT, GRP, HOST, HUMR, MMED, NEWS, POLR, SRCH</td>");
    expect(r.body).toContain('<time datetime="2026-12-01T00:00:00.000Z"');
    // Every console page links here.
    expect((await get(admin, "/console")).body).toContain('<a href="/console/test-lists">Test lists</a>');
  });

  it("an operator imports a pasted list through the API; it replaces the country's list and check-in serves it", async () => {
    const page = await get(operator, "/console/test-lists");
    expect(page.body).toContain('action="/console/test-lists" enctype="multipart/form-data"');
    const r = await post(operator, "/console/test-lists", { country: "it", csv: csvOf([row(1), row(2, "HUMR")]) });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/console/test-lists?imported=IT&urls=2&skipped=0");
    const after = await get(operator, r.headers.get("location")!);
    expect(after.body).toContain("Test list IT imported: 2 URLs.");
    expect(after.body).toContain('<a href="/console/test-lists/IT">IT</a></th><td class="num">2</td><td>HUMR, NEWS</td>');
    // The API wrote it, with its event and the operator as actor.
    const ev = await env.DB.prepare("SELECT actor, data FROM events WHERE type = 'ooni.test_list.imported' ORDER BY id DESC").first<any>();
    expect(ev.actor).toMatch(/^operator:operator-/);
    expect(JSON.parse(ev.data)).toEqual({ country: "IT", urls: 2, replaced: 0 });
    const checkin = await apiCall("POST", "/api/v1/check-in", { json: checkInBody({ web_connectivity: { category_codes: ["HUMR"] } }) });
    expect(checkin.body.tests.web_connectivity.urls).toContainEqual({ category_code: "HUMR", country_code: "IT", url: "https://news-002.example.it/" });
    // A second import replaces the list.
    const again = await post(operator, "/console/test-lists", { country: "IT", csv: csvOf([row(3)]) });
    expect(again.status).toBe(303);
    expect(await countOf("IT")).toBe(1);
  });

  it("imports an uploaded CSV file, and can skip bad rows when told to", async () => {
    const rows = Array.from({ length: 150 }, (_, i) => row(i));
    const r = await upload(admin, { country: "br", csv: "" }, { name: "br.csv", text: csvOf([...rows, "not a url,NEWS,News,2026-12-01,x,"]) });
    expect(r.status).toBe(400);
    expect(r.body).toMatch(/id="f-csv-error"[^>]*>.*line 152/);
    expect(await countOf("BR")).toBe(0);
    const ok = await upload(
      admin,
      { country: "br", csv: "", skip_invalid: "true" },
      { name: "br.csv", text: csvOf([...rows, "not a url,NEWS,News,2026-12-01,x,"]) },
    );
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/console/test-lists?imported=BR&urls=150&skipped=1");
    expect((await get(admin, ok.headers.get("location")!)).body).toContain("Test list BR imported: 150 URLs, 1 bad row skipped.");
    expect(await countOf("BR")).toBe(150);
  });

  it("shows one country's URLs a page at a time", async () => {
    const first = await get(admin, "/console/test-lists/br");
    expect(first.status).toBe(200);
    expect(first.body).toContain("<h1>Test list BR</h1>");
    expect(first.body).toContain("URLs 1–100 of 150, by category");
    expect(first.body).toContain("https://news-000.example.it/");
    expect(first.body).not.toContain("https://news-100.example.it/");
    expect(first.body).toContain("Page 1 of 2");
    const next = /href="([^"]+)" rel="next"/.exec(first.body)![1];
    expect(next).toBe("/console/test-lists/BR?page=2");
    const second = await get(admin, next);
    expect(second.body).toContain("URLs 101–150 of 150");
    expect(second.body).toContain("https://news-149.example.it/");
    expect(second.body).not.toContain('rel="next"');
    expect((await get(admin, "/console/test-lists/global")).body).toContain("https://www.bbc.com/news");
    for (const bad of ["/console/test-lists/FR", "/console/test-lists/Italy", "/console/test-lists/BR?page=3", "/console/test-lists/BR?page=x"]) {
      const r = await get(admin, bad);
      expect(r.status, bad).toBe(404);
      expect(r.headers.get("content-type")).toMatch(/^text\/html/);
    }
  });

  it("the API's validation errors show next to their fields and change nothing", async () => {
    const before = await countOf("IT");
    const country = await post(admin, "/console/test-lists", { country: "Italy", csv: csvOf([row(9)]) });
    expect(country.status).toBe(400);
    expect(country.body).toContain("There is a problem");
    expect(country.body).toMatch(/id="f-country-error"[^>]*>.*two-letter country code or &quot;global&quot;/);
    expect(country.body).toMatch(/<input id="f-country" name="country" aria-describedby="f-country-hint f-country-error" aria-invalid="true"/);
    expect(country.body).toContain('value="Italy"');
    // What was pasted comes back, so it can be fixed rather than pasted again.
    expect(country.body).toContain("https://news-009.example.it/,NEWS");
    const rows = await post(admin, "/console/test-lists", { country: "IT", csv: csvOf([row(10), "ftp://x.example/,NEWS,News,2026-12-01,x,"]) });
    expect(rows.status).toBe(400);
    expect(rows.body).toMatch(/id="f-csv-error"[^>]*>.*line 3/);
    const empty = await post(admin, "/console/test-lists", { country: "", csv: "  " });
    expect(empty.status).toBe(400);
    expect(empty.body).toMatch(/id="f-csv-error"[^>]*>.*paste a test list or choose a file/);
    expect(empty.body).toMatch(/id="f-country-error"/);
    expect(await countOf("IT")).toBe(before);
  });

  it("a viewer sees the lists but no form, and a forged import is the API's 403; a form without CSRF is refused", async () => {
    const page = await get(viewer, "/console/test-lists");
    expect(page.status).toBe(200);
    expect(page.body).toContain("/console/test-lists/global");
    expect(page.body).not.toContain('action="/console/test-lists"');
    const before = await countOf("XX");
    const forged = await post(viewer, "/console/test-lists", { country: "global", csv: csvOf([row(1)]) });
    expect(forged.status).toBe(403);
    expect(forged.body).toContain("requires the operator role");
    const forgedFile = await upload(viewer, { country: "global" }, { name: "g.csv", text: csvOf([row(1)]) });
    expect(forgedFile.status).toBe(403);
    expect((await post(admin, "/console/test-lists", { country: "global", csv: csvOf([row(1)]) }, { csrf: "forged" })).status).toBe(403);
    expect((await post(admin, "/console/test-lists", { country: "global", csv: csvOf([row(1)]) }, { origin: "https://evil.example" })).status).toBe(403);
    expect(await countOf("XX")).toBe(before);
    // And without a session there is no page at all.
    const anon = await get(null, "/console/test-lists");
    expect(anon.status).toBe(303);
  });
});
