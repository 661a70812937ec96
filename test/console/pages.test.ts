import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { registerProbe } from "../helpers";
import { type Browser, call, consoleLogin, get, post } from "./helpers";

describe("console pages", () => {
  let b: Browser;
  const ids: Record<string, string> = {};
  let grToken: string;
  beforeAll(async () => {
    ids.it = (await registerProbe({ probe_cc: "IT", probe_asn: "AS30722", platform: "android", network_type: "wifi" })).clientId;
    const gr = await registerProbe({ probe_cc: "GR", probe_asn: "AS6799", platform: "ios", network_type: "mobile", token: "" });
    ids.gr = gr.clientId;
    grToken = gr.token!;
    ids.de = (await registerProbe({ probe_cc: "DE", probe_asn: "AS3320", platform: "linux", software_name: "miniooni" })).clientId;
    await env.DB.prepare("UPDATE probes SET last_seen_at = '2020-01-01T00:00:00.000Z' WHERE id = ?").bind(ids.de).run();
    b = await consoleLogin();
  });

  it("every page is a complete, landmarked HTML document with a skip link and the current page marked", async () => {
    for (const [path, current] of [
      ["/console", "Overview"],
      ["/console/probes", "Probes"],
      ["/console/campaigns", "Campaigns"],
      ["/console/campaigns/new", "Campaigns"],
      ["/console/minions", "Minions"],
      ["/console/events", "Events"],
      ["/console/operators", "Operators"],
    ]) {
      const r = await get(b, path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^text\/html/);
      expect(r.body.startsWith("<!doctype html>")).toBe(true);
      expect(r.body).toContain('<html lang="en">');
      expect(r.body).toContain('href="#main">Skip to main content');
      expect(r.body).toContain('<main id="main"');
      expect(r.body).toMatch(new RegExp(`aria-current="page">${current}<`));
      expect(r.body.match(/<h1>/g)).toHaveLength(1);
    }
  });

  it("console responses forbid framing, inline code and caching, and report a server time", async () => {
    const r = await get(b, "/console/probes");
    expect(r.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(r.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(r.headers.get("x-frame-options")).toBe("DENY");
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.headers.get("server-timing")).toMatch(/^app;dur=\d+/);
  });

  it("the stylesheet is served by the Worker, cacheable, with an ETag", async () => {
    const r = await call("GET", "/console/assets/console.css");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/css/);
    const etag = r.headers.get("etag")!;
    expect((await call("GET", "/console/assets/console.css", { headers: { "if-none-match": etag } })).status).toBe(304);
  });

  it("the overview draws SVG charts with a tooltip per mark and the same numbers in a table", async () => {
    const r = await get(b, "/console");
    expect(r.body).toContain("<svg");
    expect(r.body).toContain("<title>IT: 1 probe</title>");
    expect(r.body).toContain("<title>ios: 1 probe</title>");
    expect(r.body).toContain("<title>mobile: 1 probe</title>");
    expect(r.body).toMatch(/<th scope="row">GR<\/th><td class="num">1<\/td>/);
    expect(r.body).toContain("Registrations per day");
    expect(r.body).toContain("Registered probes</dt><dd>3</dd>");
    expect(r.body).toContain("Seen in the last 24 h</dt><dd>2</dd>");
    expect(r.body).toContain("With a valid push token</dt><dd>2</dd>");
    // No campaign and no push yet: said plainly, no invented numbers.
    expect(r.body).toContain("No campaigns yet");
    expect(r.body).toContain("No pushes in the last 24 hours");
  });

  it("push outcomes of the last 24 h come from the event history", async () => {
    const at = new Date().toISOString();
    await env.DB.batch(
      ["push.sent", "push.sent", "push.failed", "push.retry", "push.deferred", "push.skipped", "push.skipped"].map((t) =>
        env.DB.prepare("INSERT INTO events (at, type, actor, data) VALUES (?, ?, 'system', '{}')").bind(at, t),
      ),
    );
    const r = await get(b, "/console");
    expect(r.body).toContain("<title>sent: 2 pushes</title>");
    expect(r.body).toContain("<title>failed: 1 push</title>");
    expect(r.body).toContain("<title>deferred: 1 push</title>");
    expect(r.body).toContain("<title>retried: 1 push</title>");
    expect(r.body).toContain("<title>skipped: 2 pushes</title>");
    // The same counts per UTC hour, stacked, with a table of the numbers.
    const hour = `${at.slice(11, 13)}:00`;
    expect(r.body).toContain(`<title>${hour}, sent: 2 pushes</title>`);
    expect(r.body).toMatch(
      new RegExp(
        `<th scope="row">${hour}</th><td class="num">2</td><td class="num">1</td><td class="num">1</td><td class="num">2</td><td class="num">1</td><td class="num">7</td>`,
      ),
    );
  });

  it("push.accepted (gorush without core.sync) is its own outcome, with its own bar and column once it occurs", async () => {
    const at = new Date().toISOString();
    await env.DB.batch(
      ["push.accepted", "push.accepted", "push.accepted"].map((t) =>
        env.DB.prepare("INSERT INTO events (at, type, actor, data) VALUES (?, ?, 'system', '{}')").bind(at, t),
      ),
    );
    const r = await get(b, "/console");
    expect(r.body).toContain("<title>accepted: 3 pushes</title>");
    expect(r.body).toContain("<title>sent: 2 pushes</title>");
    const hour = `${at.slice(11, 13)}:00`;
    expect(r.body).toContain(`<title>${hour}, accepted: 3 pushes</title>`);
    // Columns in outcome order: sent, accepted, deferred, retried, skipped, failed, total.
    expect(r.body).toMatch(
      new RegExp(
        `<th scope="row">${hour}</th><td class="num">2</td><td class="num">3</td><td class="num">1</td><td class="num">1</td><td class="num">2</td><td class="num">1</td><td class="num">10</td>`,
      ),
    );
    const events = await get(b, "/console/events?type=push.accepted");
    expect(events.status).toBe(200);
    expect(events.body).toContain('<option value="push.accepted"');
  });

  it("filters probes with the API's filter and links each row to its detail page", async () => {
    const r = await get(b, "/console/probes?country=IT,GR&platform=ios&seen=24h");
    expect(r.status).toBe(200);
    expect(r.body).toContain(`/console/probes/${ids.gr}`);
    expect(r.body).not.toContain(`/console/probes/${ids.it}`);
    expect(r.body).toMatch(/1 probe matches/);
    const stale = await get(b, "/console/probes?seen=stale30d");
    expect(stale.body).toContain(`/console/probes/${ids.de}`);
    expect(stale.body).not.toContain(`/console/probes/${ids.it}`);
    const token = await get(b, "/console/probes?token_state=none");
    expect(token.body).toContain(`/console/probes/${ids.gr}`);
  });

  it("pages through probes with a cursor", async () => {
    const first = await get(b, "/console/probes?limit=25");
    expect(first.body).not.toContain('rel="next"');
    // limit=1 is not offered by the form but the same schema accepts it.
    const one = await get(b, "/console/probes?limit=1");
    const next = /href="([^"]+)" rel="next"/.exec(one.body)![1].replace(/&amp;/g, "&");
    const second = await get(b, next);
    expect(second.status).toBe(200);
    expect(second.body).toContain(`/console/probes/${ids.gr}`);
    expect(second.body).toContain("First page");
  });

  it("a bad filter is a 400 page with the schema's message next to its field", async () => {
    const r = await get(b, "/console/probes?country=Italy&asn=1234");
    expect(r.status).toBe(400);
    expect(r.body).toContain("There is a problem");
    expect(r.body).toMatch(/id="f-country-error"[^>]*>.*two-letter country code/);
    expect(r.body).toMatch(/id="f-asn-error"[^>]*>.*AS&lt;number&gt;/);
    expect(r.body).toMatch(/<input id="f-country" name="country" aria-describedby="f-country-hint f-country-error" aria-invalid="true"/);
    expect(r.body).toContain('value="Italy"');
    expect((await get(b, "/console/probes?seen=forever")).status).toBe(400);
  });

  it("a probe's page shows its metadata, its history and its events", async () => {
    await (await import("../helpers")).call("PUT", `/api/v1/update/${ids.gr}`, { json: { network_type: "wifi" }, token: grToken });
    const r = await get(b, `/console/probes/${ids.gr}`);
    expect(r.status).toBe(200);
    expect(r.body).toContain(ids.gr);
    expect(r.body).toContain("AS6799");
    expect(r.body).toMatch(/<td>update<\/td><td>network_type<\/td>/);
    expect(r.body).toContain("probe.registered");
    expect(r.body).toContain("No tasks for this probe yet.");
  });

  it("unknown probes and pages are 404 pages, not JSON", async () => {
    for (const path of ["/console/probes/00000000-0000-4000-8000-000000000000", "/console/probes/not-an-id", "/console/nope"]) {
      const r = await get(b, path);
      expect(r.status, path).toBe(404);
      expect(r.headers.get("content-type")).toMatch(/^text\/html/);
      expect(r.body).toContain("Page not found");
    }
  });

  it("filters events by type prefix and probe, and rejects a malformed filter next to its field", async () => {
    const r = await get(b, `/console/events?type=probe.*&probe_id=${ids.it}`);
    expect(r.status).toBe(200);
    expect(r.body).toContain("probe.registered");
    expect(r.body).not.toContain(ids.gr);
    const since = await get(b, "/console/events?since=2999-01-01T00:00");
    expect(since.body).toContain("No event matches");
    const bad = await get(b, "/console/events?probe_id=nope&type=Bad Type");
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('id="f-probe_id-error"');
    expect(bad.body).toContain('id="f-type-error"');
  });

  it("an admin creates an operator through the form; the API's validation errors show next to the fields", async () => {
    const bad = await post(b, "/console/operators", { username: "x", password: "short", role: "root" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/id="f-username-error"[^>]*>.*must be 3-64 characters/);
    expect(bad.body).toMatch(/id="f-password-error"[^>]*>.*at least 12 characters/);
    expect(bad.body).toContain('id="f-role-error"');
    expect(bad.body).not.toContain("short"); // the password is never echoed back
    const ok = await post(b, "/console/operators", { username: "Carol", password: "a long enough password", role: "viewer" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/console/operators?created=carol");
    const list = await get(b, "/console/operators?created=carol");
    expect(list.body).toContain("Operator carol created.");
    expect(list.body).toMatch(/<th scope="row">carol<\/th><td>viewer<\/td>/);
    const ev = await env.DB.prepare("SELECT actor FROM events WHERE type = 'operator.created' AND data LIKE '%carol%'").first<{ actor: string }>();
    expect(ev?.actor).toBe("operator:admin");
    const dup = await post(b, "/console/operators", { username: "carol", password: "a long enough password", role: "viewer" });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatch(/id="f-username-error"[^>]*>.*already exists/);
  });

  it("/ leads to the console", async () => {
    const r = await call("GET", "/");
    expect(r.status).toBe(302);
    expect(r.headers.get("location")).toBe("/console");
  });
});
