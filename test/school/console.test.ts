import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { PublishedKey } from "../../functions/school/lease";
import { signDelegation, verifyLease } from "../../functions/school/lease";
import { type Browser, call as browserCall, consoleSessions, get, post } from "../console/helpers";
import { adminToken, call } from "../helpers";
import { activation, DEV_MASTER, sshKey, xo } from "./helpers";

/** The <tr> of the machines table that holds this serial (the page is server-rendered HTML). */
function rowOf(html: string, serial: string): string {
  const table = html.slice(html.indexOf('<table id="machines"'), html.indexOf("</table>", html.indexOf('<table id="machines"')));
  const row = table.split("<tr>").find((r) => r.includes(`>${serial}<`));
  if (!row) throw new Error(`no row for ${serial} on the page`);
  return row;
}

const eventCount = async (type: string, serial: string) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE type = ? AND subject_kind = 'machine' AND subject_id = ?")
    .bind(type, serial)
    .first<{ n: number }>())!.n;

async function registeredLaptop(nickname = "ana") {
  const m = xo();
  const r = await call("POST", "/client/register", { json: { uuid: m.uuid, nickname, serial: m.serial, pubkey: sshKey() } });
  expect(r.status).toBe(200);
  return m;
}

describe("console school page", () => {
  let admin: Browser;
  let operator: Browser;
  let viewer: Browser;
  beforeAll(async () => {
    ({ admin, operator, viewer } = await consoleSessions("operator", "viewer"));
  });

  it("is a complete console page, marked current in the navigation, behind the login", async () => {
    const r = await get(admin, "/console/school");
    expect(r.status).toBe(200);
    expect(r.body.startsWith("<!doctype html>")).toBe(true);
    expect(r.body).toMatch(/aria-current="page">School</);
    expect(r.body.match(/<h1>/g)).toHaveLength(1);
    expect(r.headers.get("content-security-policy")).toContain("default-src 'none'");
    const anon = await get(null, "/console/school");
    expect([anon.status, anon.headers.get("location")]).toEqual([303, "/console/login?next=%2Fconsole%2Fschool"]);
  });

  it("lists a registered machine with its user, a valid server-key lease until its expiry, and when it was last seen", async () => {
    const m = await registeredLaptop("ana");
    const unseen = await registeredLaptop("bea");
    expect((await activation(m.serial)).body).toMatch(/^act01:/);
    const r = await get(admin, `/console/school?serial=${m.serial.slice(0, 9)}`);
    expect(r.status).toBe(200);
    const row = rowOf(r.body, m.serial);
    expect(row).toContain("ana");
    expect(row).toContain(m.uuid);
    expect(row).toContain('<span class="state state-valid">valid</span>');
    const api = await call("GET", `/api/v1/admin/school/machines?serial=${m.serial}`, { token: await adminToken() });
    expect(api.body.results).toHaveLength(1);
    expect(row).toContain(`datetime="${api.body.results[0].lease_expires_at}"`);
    expect(row).toContain("server key");
    expect(row).toContain(`datetime="${api.body.results[0].last_seen_at}"`);
    expect(row).toContain("Mark stolen");
    // The other laptop is known but never asked: no lease, never seen.
    const other = rowOf((await get(admin, `/console/school?serial=${unseen.serial}`)).body, unseen.serial);
    expect(other).toContain('<span class="state state-none">none</span>');
    expect(other).toContain('<span class="muted">never</span>');
  });

  it("the serial filter matches serials by their beginning, in any case, and refuses what no serial starts with", async () => {
    const m = await registeredLaptop();
    const hit = await get(admin, `/console/school?serial=${m.serial.toLowerCase()}`);
    expect(rowOf(hit.body, m.serial)).toBeTruthy();
    const miss = await get(admin, "/console/school?serial=ZZZZZZZZZZZ");
    expect(miss.body).toContain("No machine matches.");
    const bad = await get(admin, "/console/school?serial=not%20a%20serial!");
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('id="f-serial-error"');
    expect(bad.body).toContain('aria-invalid="true"');
  });

  it("pages through machines by serial with next and first-page links that keep the filter", async () => {
    const prefix = `PG${crypto.randomUUID().replace(/-/g, "").slice(0, 5).toUpperCase()}`;
    const machines = Array.from({ length: 30 }, (_, i) => ({ serial: `${prefix}${String(i).padStart(4, "0")}`, uuid: crypto.randomUUID() }));
    expect((await call("POST", "/api/v1/admin/school/machines", { json: { machines }, token: await adminToken() })).status).toBe(200);
    const first = await get(admin, `/console/school?serial=${prefix}&limit=25`);
    expect(first.body.match(new RegExp(`>${prefix}\\d{4}<`, "g"))).toHaveLength(25);
    const next = /<a href="([^"]+)" rel="next">Next page<\/a>/.exec(first.body)?.[1].replace(/&amp;/g, "&");
    expect(next).toBeTruthy();
    const second = await get(admin, next!);
    expect(second.body.match(new RegExp(`>${prefix}\\d{4}<`, "g"))).toHaveLength(5);
    expect(second.body).toContain(`>${prefix}0029<`);
    expect(second.body).not.toContain('rel="next"');
    expect(second.body).toMatch(new RegExp(`href="/console/school\\?serial=${prefix}&amp;limit=25">First page`));
    expect((await get(admin, "/console/school?limit=7")).status).toBe(400);
    expect((await get(admin, "/console/school?cursor=garbage")).status).toBe(400);
  });

  it("an operator marks a machine stolen from its row: the page says so, activation answers STOLEN, and clearing it lets it lease again", async () => {
    const m = await registeredLaptop();
    await activation(m.serial);
    const r = await post(operator, "/console/school/stolen", { serial: m.serial });
    expect(r.status).toBe(303);
    const page = await get(operator, r.headers.get("location")!);
    expect(page.body).toContain(`${m.serial} marked stolen`);
    const row = rowOf(page.body, m.serial);
    expect(row).toMatch(/<span class="state state-stolen">stolen since \d{4}-/);
    expect(row).toContain('<span class="state state-none">none</span>');
    expect(row).toContain("Clear stolen");
    expect((await activation(m.serial)).body).toBe("STOLEN\n");
    expect(await eventCount("school.machine.stolen", m.serial)).toBe(1);
    const ev = await env.DB.prepare("SELECT actor FROM events WHERE type = 'school.machine.stolen' AND subject_id = ?")
      .bind(m.serial)
      .first<{ actor: string }>();
    expect(ev?.actor).toMatch(/^operator:/);

    const clear = await post(operator, "/console/school/stolen/clear", { serial: m.serial });
    expect(clear.status).toBe(303);
    const after = await get(operator, clear.headers.get("location")!);
    expect(after.body).toContain(`${m.serial} is no longer stolen`);
    expect(rowOf(after.body, m.serial)).toContain("Mark stolen");
    expect((await activation(m.serial)).body).toMatch(/^act01:/);
    expect(await eventCount("school.machine.recovered", m.serial)).toBe(1);
  });

  it("the report form marks a serial never seen stolen, and a bad serial comes back next to the field with nothing changed", async () => {
    const m = xo();
    const r = await post(operator, "/console/school/stolen", { stolen_serial: m.serial.toLowerCase() });
    expect(r.status).toBe(303);
    expect((await activation(m.serial)).body).toBe("STOLEN\n");
    const bad = await post(operator, "/console/school/stolen", { stolen_serial: "SHORT" });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('id="f-stolen_serial-error"');
    expect(bad.body).toContain('value="SHORT"');
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM school_machines WHERE serial = 'SHORT'").first<{ n: number }>()).toEqual({ n: 0 });
  });

  it("asking every client to re-register changes the stamp on the page and the one clients see", async () => {
    const m = await registeredLaptop();
    const before = (await call("GET", `/client/status?uuid=${m.uuid}`)).body.stamp as string;
    expect((await get(operator, "/console/school")).body).toContain(`>${before}<`);
    const r = await post(operator, "/console/school/stamp", {});
    expect([r.status, r.headers.get("location")]).toEqual([303, "/console/school?done=stamp"]);
    const after = (await call("GET", `/client/status?uuid=${m.uuid}`)).body.stamp as string;
    expect(after).not.toBe(before);
    const page = await get(operator, "/console/school?done=stamp");
    expect(page.body).toContain(`>${after}<`);
    expect(page.body).toContain("every client will re-register");
  });

  it("imports pasted delegations, one per line: valid ones are stored and lease under the chain, the others are listed by line", async () => {
    const m = await registeredLaptop();
    const server = (await call<{ keys: PublishedKey[] }>("GET", "/.well-known/jwks.json")).body.keys.find((k) => k.role === "server") as PublishedKey;
    const good = await signDelegation(DEV_MASTER, server, m.serial, new Date(), new Date(Date.now() + 10 * 86_400_000));
    const r = await post(operator, "/console/school/delegations", { delegations: `${good}\n\n${"x".repeat(40)}\n` });
    expect(r.status).toBe(200);
    expect(r.body).toContain("Imported 1 delegation; 1 refused.");
    expect(r.body).toMatch(/Pasted line 3: /);
    expect(r.body).toContain(`>${"x".repeat(40)}</textarea>`);
    const lease = (await call("GET", `/client/lease?serial=${m.serial}`)).body.lease as string;
    const keys = (await call<{ keys: PublishedKey[] }>("GET", "/.well-known/jwks.json")).body.keys;
    expect((await verifyLease(lease, keys, { now: new Date(), serial: m.serial, uuid: m.uuid, requireDelegation: true })).delegated).toBe(true);
    expect(rowOf((await get(operator, `/console/school?serial=${m.serial}`)).body, m.serial)).toContain("delegated");
    const empty = await post(operator, "/console/school/delegations", { delegations: "  \n " });
    expect(empty.status).toBe(400);
    expect(empty.body).toContain('id="f-delegations-error"');
    const tooMany = await post(operator, "/console/school/delegations", { delegations: Array.from({ length: 91 }, () => "y".repeat(20)).join("\n") });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toContain('id="f-delegations-error"');
  });

  it("downloads the offline bundle with the session, as JSON and as lease.sig text", async () => {
    const m = await registeredLaptop();
    await activation(m.serial);
    const page = await get(viewer, "/console/school");
    expect(page.body).toContain('href="/console/school/bundle"');
    const json = await get(viewer, "/console/school/bundle");
    expect(json.status).toBe(200);
    expect(json.headers.get("content-disposition")).toMatch(/^attachment; filename="school-bundle-\d{4}-\d\d-\d\d\.json"$/);
    const bundle = JSON.parse(json.body);
    const entry = bundle.leases.find((l: { serial: string }) => l.serial === m.serial);
    await verifyLease(entry.lease, bundle.jwks.keys, { now: new Date(), serial: m.serial, uuid: m.uuid });
    const text = await get(viewer, "/console/school/bundle?format=text");
    expect(text.headers.get("content-disposition")).toBe('attachment; filename="lease.sig"');
    expect(text.body).toMatch(new RegExp(`^act01: ${m.serial} K`, "m"));
    expect((await get(null, "/console/school/bundle")).status).toBe(303);
  });

  it("a viewer sees machines but no action controls, and forged POSTs get 403 and change nothing", async () => {
    const m = await registeredLaptop();
    const page = await get(viewer, `/console/school?serial=${m.serial}`);
    expect(page.status).toBe(200);
    expect(rowOf(page.body, m.serial)).toBeTruthy();
    expect(page.body).not.toContain("Mark stolen");
    expect(page.body).not.toContain("Clear stolen");
    expect(page.body).not.toContain('action="/console/school/stamp"');
    expect(page.body).not.toContain('action="/console/school/delegations"');
    expect(page.body).not.toContain('action="/console/school/stolen"');
    expect(page.body).not.toContain('<th scope="col">Actions</th>');
    const stampBefore = (await call("GET", `/client/status?uuid=${m.uuid}`)).body.stamp;
    for (const [path, fields] of [
      ["/console/school/stolen", { serial: m.serial }],
      ["/console/school/stolen/clear", { serial: m.serial }],
      ["/console/school/stamp", {}],
      ["/console/school/delegations", { delegations: "z".repeat(40) }],
    ] as const) {
      const r = await post(viewer, path, fields);
      expect(r.status, path).toBe(403);
    }
    expect((await activation(m.serial)).body).toMatch(/^act01:/);
    expect(await eventCount("school.machine.stolen", m.serial)).toBe(0);
    expect((await call("GET", `/client/status?uuid=${m.uuid}`)).body.stamp).toBe(stampBefore);
  });

  it("an action without the session's CSRF token, or from another origin, is refused with 403", async () => {
    const m = await registeredLaptop();
    expect((await post(operator, "/console/school/stolen", { serial: m.serial }, { csrf: null })).status).toBe(403);
    expect((await post(operator, "/console/school/stolen", { serial: m.serial }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await post(operator, "/console/school/stolen", { serial: m.serial }, { csrf: viewer.csrf })).status).toBe(403);
    const json = await browserCall("POST", "/console/school/stamp", {
      raw: JSON.stringify({ _csrf: operator.csrf }),
      headers: { cookie: operator.cookie, "content-type": "application/json" },
    });
    expect(json.status).toBe(403);
    expect(await eventCount("school.machine.stolen", m.serial)).toBe(0);
  });
});
