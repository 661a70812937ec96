import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../functions/app";
import { renewLeases } from "../../functions/school/cron";
import type { PublishedKey } from "../../functions/school/lease";
import { signDelegation, verifyLease } from "../../functions/school/lease";
import { adminToken, BASE, call, createOperator } from "../helpers";
import { activation, DEV_MASTER, pythonRegisterCall, ROGUE_MASTER, sshKey, xmlPost, xo } from "./helpers";

const register = (body: Record<string, unknown>) => call("POST", "/client/register", { json: body });
const status = (uid: string) => call("GET", `/client/status?uuid=${encodeURIComponent(uid)}`);
const jwks = async () => (await call<{ keys: PublishedKey[] }>("GET", "/.well-known/jwks.json")).body.keys;

async function registered() {
  const m = xo();
  const r = await register({ uuid: m.uuid, nickname: "ana", serial: m.serial, pubkey: sshKey() });
  expect(r.status).toBe(200);
  return { ...m, reply: r.body };
}

describe("POST /client/register", () => {
  it("registers a user and hands out uid, config, backupurl, jabberserver, backuppath and stamp", async () => {
    const { uuid, reply } = await registered();
    expect(reply).toMatchObject({
      success: "OK",
      uid: uuid,
      uuid,
      jabberserver: "schoolserver",
      backupurl: `backup@schoolserver:${uuid}/`,
      backuppath: `/library/users/${uuid}`,
      config: { "jabber-url": "schoolserver", "backup-url": `backup@schoolserver:${uuid}/`, "api-url": BASE },
    });
    expect(reply.stamp).toMatch(/^\d+-[0-9a-f]{8}$/);
  });

  it("accepts uid as the name of the id, and a missing pubkey", async () => {
    const uid = crypto.randomUUID();
    const r = await register({ uid });
    expect([r.status, r.body.success, r.body.uid]).toEqual([200, "OK", uid]);
  });

  it("answers bad input with success ERR and HTTP 400, changing nothing", async () => {
    const uid = crypto.randomUUID();
    for (const body of [{}, { uuid: "has space" }, { uuid: uid, serial: "SHORT" }, { uuid: uid, pubkey: "not-a-key" }, { uuid: uid, uid: "other" }]) {
      const r = await register(body);
      expect(r.status).toBe(400);
      expect(r.body.success).toBe("ERR");
      expect(typeof r.body.error).toBe("string");
    }
    const bad = await call("POST", "/client/register", { raw: "{nope", headers: { "content-type": "application/json" } });
    expect([bad.status, bad.body.success]).toEqual([400, "ERR"]);
    expect((await status(uid)).body.registered).toBe(false);
  });
});

describe("GET /client/status", () => {
  it("says registered with jabber-url, backup-url and the stamp; an unknown uid is not registered and gets no URLs", async () => {
    const { uuid, reply } = await registered();
    const s = await status(uuid);
    expect(s.body).toEqual({ success: "OK", registered: true, stamp: reply.stamp, "jabber-url": "schoolserver", "backup-url": `backup@schoolserver:${uuid}/` });
    const u = await call("GET", `/client/status?uid=${crypto.randomUUID()}`);
    expect(u.body).toEqual({ success: "OK", registered: false, stamp: reply.stamp });
    expect((await call("GET", "/client/status")).status).toBe(400);
  });

  it("shows a new stamp after an operator asks clients to re-register, and a re-register returns it", async () => {
    const { uuid, serial, reply } = await registered();
    const op = await createOperator("operator");
    const bump = await call("POST", "/api/v1/admin/school/stamp", { token: op.token });
    expect(bump.status).toBe(200);
    expect(bump.body.stamp).not.toBe(reply.stamp);
    expect((await status(uuid)).body.stamp).toBe(bump.body.stamp);
    const again = await register({ uuid, serial });
    expect(again.body.stamp).toBe(bump.body.stamp);
  });

  it("shows a new stamp when the deployment changes the jabber or backup settings", async () => {
    const { uuid } = await registered();
    const before = (await status(uuid)).body.stamp;
    const app = createApp();
    const res = await app.fetch(new Request(`${BASE}/client/status?uuid=${uuid}`), { ...env, SCHOOL_JABBER_SERVER: "jabber.elsewhere.example" });
    const moved = (await res.json()) as { stamp: string; "jabber-url": string };
    expect(moved["jabber-url"]).toBe("jabber.elsewhere.example");
    expect(moved.stamp).not.toBe(before);
  });
});

describe("serial uniqueness", () => {
  it("registering a second user with the same serial de-registers the first", async () => {
    const first = await registered();
    const second = crypto.randomUUID();
    expect((await register({ uuid: second, serial: first.serial.toLowerCase() })).status).toBe(200);
    expect((await status(first.uuid)).body.registered).toBe(false);
    expect((await status(second)).body.registered).toBe(true);
    expect((await call("GET", `/client/backup?uuid=${first.uuid}`)).body.success).toBe("ERR");
  });

  it("does not let Sugar's no-hardware stand-in serial move between users", async () => {
    const a = crypto.randomUUID();
    const b = crypto.randomUUID();
    await register({ uuid: a, serial: "SHF00000000" });
    await register({ uuid: b, serial: "SHF00000000" });
    expect((await status(a)).body.registered).toBe(true);
  });
});

describe("XML-RPC register", () => {
  for (const path of ["/", "/RPC2"]) {
    it(`at POST ${path}: Python's call returns the same keys as JSON, all strings, HTTP 200`, async () => {
      const m = xo();
      const key = sshKey();
      const r = await xmlPost(path, pythonRegisterCall(m.serial, "Niño <&>", m.uuid, key));
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^text\/xml/);
      for (const k of ["success", "jabberserver", "backupurl", "backuppath", "stamp", "uid"])
        expect(r.body).toMatch(new RegExp(`<name>${k}</name>\\n<value><string>`));
      expect(r.body).toContain("<name>success</name>\n<value><string>OK</string>");
      expect(r.body).toContain("<name>config</name>\n<value><struct>");
      expect((await status(m.uuid)).body.registered).toBe(true);
      // The key arrived without its ssh-dss prefix and is stored normalised: a JSON re-register with the prefix keeps backups working.
      expect((await call("GET", `/client/backup?uuid=${m.uuid}`)).body.success).toBe("OK");
    });
  }

  it("answers bad values with success ERR inside a normal response", async () => {
    const r = await xmlPost("/RPC2", pythonRegisterCall("BAD", "n", crypto.randomUUID(), sshKey()));
    expect(r.status).toBe(200);
    expect(r.body).toContain("<name>success</name>\n<value><string>ERR</string>");
    expect(r.body).toContain("<name>error</name>");
  });

  it("faults (HTTP 200, int faultCode) on unknown methods, wrong argument counts and types", async () => {
    const unknown = await xmlPost(
      "/RPC2",
      "<?xml version='1.0'?>\n<methodCall>\n<methodName>system.shutdown</methodName>\n<params>\n</params>\n</methodCall>\n",
    );
    expect(unknown.status).toBe(200);
    expect(unknown.body).toContain("<name>faultCode</name>\n<value><int>-32601</int>");
    const three = await xmlPost("/RPC2", "<methodCall><methodName>register</methodName><params><param><value>a</value></param></params></methodCall>");
    expect(three.body).toContain("<int>-32602</int>");
    const typed = await xmlPost(
      "/",
      "<methodCall><methodName>register</methodName><params>" + "<param><value><int>1</int></value></param>".repeat(4) + "</params></methodCall>",
    );
    expect(typed.body).toContain("<int>-32602</int>");
  });

  it("never answers hostile XML with a 5xx", async () => {
    const bodies = [
      "",
      "not xml at all",
      "<methodCall><methodName>register",
      `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><methodCall><methodName>&b;</methodName></methodCall>`,
      `<methodCall><methodName>a</methodName><params><param>${"<value><array><data>".repeat(3000)}`,
      `<methodCall>${"<x/>".repeat(20_000)}</methodCall>`,
    ];
    for (const body of bodies) {
      const r = await xmlPost("/RPC2", body);
      expect(r.status).toBeLessThan(500);
      if (r.status === 200) expect(r.body).toContain("<name>faultCode</name>");
    }
    // Over MAX_BODY_BYTES: still XML-RPC's contract, HTTP 200 with a fault (test/school/body-limit.test.ts).
    const huge = await xmlPost("/RPC2", `<methodCall>${" ".repeat(70_000)}</methodCall>`);
    expect(huge.status).toBe(200);
    expect(huge.body).toContain("<name>faultCode</name>");
  });

  it("POST / without XML is a 415 in the school envelope, not XML-RPC", async () => {
    const r = await call("POST", "/", { json: { uuid: "x" } });
    expect([r.status, r.body.success]).toEqual([415, "ERR"]);
  });
});

describe("backup admission", () => {
  it("accepts a registered user with a key while slots are free, then answers accepted:false with retry-after", async () => {
    // The test pool runs with MAX_CONCURRENT_BACKUPS = 2; earlier tests' admissions are expired first.
    await env.DB.prepare("UPDATE school_backups SET expires_at = '2000-01-01T00:00:00.000Z'").run();
    const users = [await registered(), await registered(), await registered()];
    const a = await call("GET", `/client/backup?uuid=${users[0].uuid}`);
    expect(a.body).toEqual({ success: "OK", accepted: true });
    expect((await call("GET", `/client/backup?uuid=${users[0].uuid}`)).body.accepted).toBe(true); // its own slot, again
    expect((await call("GET", `/client/backup?uid=${users[1].uuid}`)).body.accepted).toBe(true);
    const full = await call("GET", `/client/backup?uuid=${users[2].uuid}`);
    expect(full.body.accepted).toBe(false);
    expect(full.body["retry-after"]).toBeGreaterThan(0);
    expect(Number(full.headers.get("retry-after"))).toBe(full.body["retry-after"]);
    const legacy = await call("GET", `/backup/uuid/available/${users[2].uuid}`);
    expect(legacy.status).toBe(503);
    expect((await call("GET", `/backup/uuid/available/${users[0].uuid}`)).status).toBe(200);
  });

  it("admissions expire on their own and free their slot", async () => {
    await env.DB.prepare("UPDATE school_backups SET expires_at = '2000-01-01T00:00:00.000Z'").run();
    const u = await registered();
    expect((await call("GET", `/client/backup?uuid=${u.uuid}`)).body.accepted).toBe(true);
    await env.DB.prepare("UPDATE school_backups SET expires_at = '2000-01-01T00:00:00.000Z'").run();
  });

  it("refuses unregistered users (ERR, legacy 403) and users without a key", async () => {
    const nobody = crypto.randomUUID();
    const r = await call("GET", `/client/backup?uuid=${nobody}`);
    expect([r.status, r.body.success]).toEqual([403, "ERR"]);
    expect((await call("GET", `/backup/uuid/available/${nobody}`)).status).toBe(403);
    const keyless = crypto.randomUUID();
    await register({ uuid: keyless });
    expect((await call("GET", `/client/backup?uuid=${keyless}`)).body.error).toMatch(/public key/);
  });
});

describe("activation", () => {
  it("answers UNKNOWN for a machine nobody registered or imported, and records that it asked", async () => {
    const m = xo();
    const r = await activation(m.serial);
    expect([r.status, r.body]).toEqual([200, "UNKNOWN\n"]);
    const op = await adminToken();
    const list = await call("GET", "/api/v1/admin/school/machines?limit=500", { token: op });
    const row = list.body.results.find((x: { serial: string }) => x.serial === m.serial);
    expect(row).toMatchObject({ known: false, stolen: false, lease_state: "none" });
    expect(row.last_seen_at).toBeTruthy();
  });

  it("signs a lease for a known machine that verifies with the published JWKS, and serves the same one again", async () => {
    const m = await registered();
    const r = await activation(m.serial);
    expect(r.status).toBe(200);
    const lines = r.body.trimEnd().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^act01: ${m.serial} K \\d{8}T\\d{6}Z sig01: sha256 [0-9a-f]{64} [0-9a-f]+$`));
    const jws = lines[lines.length - 1];
    const v = await verifyLease(jws, await jwks(), { now: new Date(), serial: m.serial, uuid: m.uuid });
    expect(v.delegated).toBe(false);
    expect((await activation(m.serial)).body).toBe(r.body);
    const json = await call("GET", `/client/lease?serial=${m.serial}`);
    expect(json.body).toMatchObject({ success: "OK", lease: jws, legacy: lines[0] });
  });

  it("answers STOLEN before any lease, drops the lease, and never renews it; clearing the flag lets it lease again", async () => {
    const m = await registered();
    await activation(m.serial);
    const op = await createOperator("operator");
    expect((await call("POST", "/api/v1/admin/school/stolen", { json: { serial: m.serial }, token: op.token })).status).toBe(200);
    expect((await activation(m.serial)).body).toBe("STOLEN\n");
    const lease = await call("GET", `/client/lease?serial=${m.serial}`);
    expect([lease.status, lease.body.success, lease.body.error]).toEqual([403, "ERR", "STOLEN"]);
    await renewLeases(env, new Date(Date.now() + 30 * 86_400_000));
    expect((await activation(m.serial)).body).toBe("STOLEN\n");
    expect((await call("DELETE", `/api/v1/admin/school/stolen/${m.serial}`, { token: op.token })).status).toBe(200);
    expect((await call("DELETE", `/api/v1/admin/school/stolen/${m.serial}`, { token: op.token })).status).toBe(404);
    expect((await activation(m.serial)).body).toMatch(/^act01:/);
  });

  it("a serial reported stolen before it was ever seen answers STOLEN", async () => {
    const m = xo();
    await call("POST", "/api/v1/admin/school/stolen", { json: { serial: m.serial }, token: await adminToken() });
    expect((await activation(m.serial)).body).toBe("STOLEN\n");
  });

  it("answers a body without a serial with UNKNOWN and 400; GET /client/lease for an unknown serial is ERR 404", async () => {
    for (const body of ["", "hello", "x".repeat(5000)]) {
      const r = await call<string>("POST", "/activation", { raw: body, headers: { "content-type": "text/plain" } });
      expect([r.status, r.body]).toEqual([400, "UNKNOWN\n"]);
    }
    const r = await call("GET", `/client/lease?serial=${xo().serial}`);
    expect([r.status, r.body.success]).toEqual([404, "ERR"]);
    expect((await call("GET", "/client/lease?serial=bad")).status).toBe(400);
  });
});

describe("keyring delegations", () => {
  it("a lease issued under an imported delegation carries the chain and verifies only through it", async () => {
    const m = await registered();
    const server = (await jwks()).find((k) => k.role === "server") as PublishedKey;
    const until = new Date(Date.now() + 10 * 86_400_000);
    const good = await signDelegation(DEV_MASTER, server, m.serial, new Date(), until);
    const rogue = await signDelegation(ROGUE_MASTER, server, m.serial, new Date(), until);
    const expired = await signDelegation(DEV_MASTER, server, m.serial, new Date(Date.now() - 2 * 86_400_000), new Date(Date.now() - 86_400_000));
    const op = await createOperator("operator");
    const imp = await call("POST", "/api/v1/admin/school/delegations", { json: { delegations: [good, rogue, expired, "x".repeat(40)] }, token: op.token });
    expect(imp.status).toBe(200);
    expect(imp.body.imported).toBe(1);
    expect(imp.body.rejected.map((r: { index: number }) => r.index)).toEqual([1, 2, 3]);
    const lease = (await call("GET", `/client/lease?serial=${m.serial}`)).body.lease as string;
    const v = await verifyLease(lease, await jwks(), { now: new Date(), serial: m.serial, uuid: m.uuid, requireDelegation: true });
    expect(v.delegated).toBe(true);
    expect(v.exp).toBeLessThanOrEqual(Math.floor(until.getTime() / 1000));
  });

  it("refuses leases where delegations are required and the machine has none", async () => {
    const m = await registered();
    const app = createApp();
    const res = await app.fetch(new Request(`${BASE}/activation`, { method: "POST", body: m.serial }), { ...env, LEASE_REQUIRE_DELEGATION: "on" });
    expect(await res.text()).toBe("UNKNOWN\n");
  });

  it("viewers may not import delegations or mark machines stolen; anonymous callers get 401", async () => {
    const viewer = await createOperator("viewer");
    expect((await call("POST", "/api/v1/admin/school/stolen", { json: { serial: xo().serial }, token: viewer.token })).status).toBe(403);
    expect((await call("POST", "/api/v1/admin/school/delegations", { json: { delegations: ["x".repeat(20)] }, token: viewer.token })).status).toBe(403);
    expect((await call("POST", "/api/v1/admin/school/stamp")).status).toBe(401);
    expect((await call("GET", "/api/v1/admin/school/machines")).status).toBe(401);
    expect((await call("GET", "/api/v1/admin/school/bundle")).status).toBe(401);
  });
});

describe("operator API", () => {
  it("imports machines so they lease, lists them with user, lease state and last seen, and bundles leases and the stolen list", async () => {
    const op = await createOperator("operator");
    const a = xo();
    const b = xo();
    expect((await call("POST", "/api/v1/admin/school/machines", { json: { machines: [a, b] }, token: op.token })).body.imported).toBe(2);
    expect((await activation(a.serial)).body).toMatch(/^act01:/);
    await call("POST", "/api/v1/admin/school/stolen", { json: { serial: b.serial }, token: op.token });
    const list = await call("GET", "/api/v1/admin/school/machines?limit=500", { token: op.token });
    const rowA = list.body.results.find((x: { serial: string }) => x.serial === a.serial);
    expect(rowA).toMatchObject({ known: true, stolen: false, lease_state: "valid", uuid: a.uuid, user: null });
    const reg = await registered();
    await activation(reg.serial);
    const withUser = (await call("GET", "/api/v1/admin/school/machines?limit=500", { token: op.token })).body.results.find(
      (x: { serial: string }) => x.serial === reg.serial,
    );
    expect(withUser.user).toMatchObject({ uid: reg.uuid, nickname: "ana" });
    const bundle = await call("GET", "/api/v1/admin/school/bundle", { token: op.token });
    expect(bundle.body.stolen).toContain(b.serial);
    const entry = bundle.body.leases.find((l: { serial: string }) => l.serial === a.serial);
    await verifyLease(entry.lease, bundle.body.jwks.keys, { now: new Date(), serial: a.serial, uuid: a.uuid });
    expect(bundle.body.leases.some((l: { serial: string }) => l.serial === b.serial)).toBe(false);
    const text = await call<string>("GET", "/api/v1/admin/school/bundle?format=text", { token: op.token });
    expect(text.body).toContain(`stolen01: ${b.serial}`);
    expect(text.body).toMatch(new RegExp(`^act01: ${a.serial} K`, "m"));
  });
});

describe("lease renewal (cron)", () => {
  it("renews leases inside the renewal window with a later expiry that still verifies", async () => {
    const m = await registered();
    const first = (await call("GET", `/client/lease?serial=${m.serial}`)).body;
    const later = new Date(Date.parse(first.expires_at) - 3_600_000);
    const { renewed } = await renewLeases(env, later);
    expect(renewed).toBeGreaterThanOrEqual(1);
    const row = await env.DB.prepare("SELECT lease, lease_expires_at FROM school_machines WHERE serial = ?")
      .bind(m.serial)
      .first<{ lease: string; lease_expires_at: string }>();
    expect(row?.lease).not.toBe(first.lease);
    expect(Date.parse(row?.lease_expires_at ?? "")).toBeGreaterThan(Date.parse(first.expires_at));
    await verifyLease(row?.lease ?? "", await jwks(), { now: later, serial: m.serial, uuid: m.uuid });
  });
});

describe("keys in production", () => {
  it("a missing or malformed signing key is 503 misconfigured, not a fallback", async () => {
    const app = createApp();
    const m = xo();
    const missing = await app.fetch(new Request(`${BASE}/client/lease?serial=${m.serial}`), { ...env, LEASE_SIGNING_KEY: undefined });
    expect(missing.status).toBe(503);
    expect(await missing.json()).toMatchObject({ success: "ERR", code: "misconfigured", error: expect.stringMatching(/LEASE_SIGNING_KEY/) });
    const jwksRes = await app.fetch(new Request(`${BASE}/.well-known/jwks.json`), {
      ...env,
      LEASE_MASTER_PUBLIC_KEY: '{"kty":"RSA","n":"' + "a".repeat(80) + '"}',
    });
    expect(jwksRes.status).toBe(503);
  });

  it("publishes the JWKS with cache headers", async () => {
    const r = await call("GET", "/.well-known/jwks.json");
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toMatch(/max-age/);
    expect(r.body.keys.length).toBe(2);
  });
});
