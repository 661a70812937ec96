import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminToken, call, createOperator, registerProbe } from "../helpers";

const row = (id: string) => env.DB.prepare("SELECT * FROM probes WHERE id = ?").bind(id).first<any>();
const history = async (id: string) => (await env.DB.prepare("SELECT * FROM probe_updates WHERE probe_id = ? ORDER BY id").bind(id).all<any>()).results;

describe("PUT /api/v1/update/:client_id", () => {
  it("a probe updates its own metadata and push token with its token; the history keeps both versions", async () => {
    const { clientId, token } = await registerProbe();
    const r = await call("PUT", `/api/v1/update/${clientId}`, {
      token,
      json: { network_type: "mobile", software_version: "3.9.0", device_token: "fcm-token-2" },
    });
    expect([r.status, r.body]).toEqual([200, { status: "ok" }]);
    const p = await row(clientId);
    expect(p).toMatchObject({ network_type: "mobile", software_version: "3.9.0", push_token: "fcm-token-2", push_token_state: "valid" });
    const h = await history(clientId);
    expect(h.map((x) => x.update_type)).toEqual(["register", "update"]);
    expect(JSON.parse(h[1].changed).sort()).toEqual(["network_type", "push_token", "software_version"]);
    expect(JSON.parse(h[0].snapshot).network_type).toBe("wifi");
    expect(JSON.stringify(h)).not.toContain("fcm-token-2"); // the history never stores push tokens
  });

  it("accepts the seed's full body as an update (Orchestra clients resend everything)", async () => {
    const { clientId, token } = await registerProbe();
    const r = await call("PUT", `/api/v1/update/${clientId}`, {
      token,
      json: {
        probe_cc: "GR",
        probe_asn: "AS6799",
        platform: "android",
        software_name: "ooniprobe-android",
        software_version: "2.0.0",
        supported_tests: ["web_connectivity"],
        network_type: "wifi",
        available_bandwidth: "100",
        language: "el",
        token: "fcm-token-1",
      },
    });
    expect(r.status).toBe(200);
    expect(await row(clientId)).toMatchObject({ probe_cc: "GR", probe_asn: "AS6799", language: "el" });
  });

  it("a new push token revives an expired one; an empty token clears it", async () => {
    const { clientId, token } = await registerProbe();
    await env.DB.prepare("UPDATE probes SET push_token_state = 'expired' WHERE id = ?").bind(clientId).run();
    await call("PUT", `/api/v1/update/${clientId}`, { token, json: { token: "fresh" } });
    expect((await row(clientId)).push_token_state).toBe("valid");
    await call("PUT", `/api/v1/update/${clientId}`, { token, json: { token: "" } });
    expect(await row(clientId)).toMatchObject({ push_token: null, push_token_state: "none" });
  });

  it("an update that changes nothing adds no history but counts as seen", async () => {
    const { clientId, token } = await registerProbe();
    await env.DB.prepare("UPDATE probes SET last_seen_at = '2000-01-01T00:00:00.000Z' WHERE id = ?").bind(clientId).run();
    const r = await call("PUT", `/api/v1/update/${clientId}`, { token, json: { probe_cc: "IT" } });
    expect(r.status).toBe(200);
    expect((await history(clientId)).length).toBe(1);
    expect((await row(clientId)).last_seen_at > "2020").toBe(true);
  });

  it("another probe's token is refused with 403 and changes nothing", async () => {
    const a = await registerProbe();
    const b = await registerProbe();
    const before = await row(a.clientId);
    const r = await call("PUT", `/api/v1/update/${a.clientId}`, { token: b.token, json: { probe_cc: "FR" } });
    expect(r.status).toBe(403);
    expect(r.body.code).toBe("forbidden");
    expect(await row(a.clientId)).toEqual(before);
  });

  it("an operator's token cannot update a probe either (a probe acts only on itself)", async () => {
    const a = await registerProbe();
    const r = await call("PUT", `/api/v1/update/${a.clientId}`, { token: await adminToken(), json: { probe_cc: "FR" } });
    expect(r.status).toBe(403);
  });

  it("a probe registered with a password must send its token: none → 401, changes nothing", async () => {
    const a = await registerProbe();
    const before = await row(a.clientId);
    const r = await call("PUT", `/api/v1/update/${a.clientId}`, { json: { probe_cc: "FR" } });
    expect(r.status).toBe(401);
    expect(r.headers.get("www-authenticate")).toBe("Bearer");
    expect(await row(a.clientId)).toEqual(before);
  });

  it("a probe registered without a password updates with its client_id alone (the seed's original flow)", async () => {
    const a = await registerProbe({ password: undefined });
    const r = await call("PUT", `/api/v1/update/${a.clientId}`, { json: { probe_cc: "FR" } });
    expect(r.status).toBe(200);
    expect((await row(a.clientId)).probe_cc).toBe("FR");
  });

  it("an unknown client is a 404; a client_id that is not a UUID is a 400", async () => {
    const r = await call("PUT", `/api/v1/update/${crypto.randomUUID()}`, { json: { probe_cc: "FR" } });
    expect([r.status, r.body]).toEqual([404, { error: "client is not registered", code: "not_found" }]);
    expect((await call("PUT", "/api/v1/update/not-a-uuid", { json: {} })).status).toBe(400);
  });

  it("bad input is a 400 that changes nothing", async () => {
    const a = await registerProbe();
    const before = await row(a.clientId);
    for (const json of [{ probe_cc: "Italy" }, { supported_tests: [] }, { probe_asn: 42 }, { platform: "" }, { token: 5 }]) {
      const r = await call("PUT", `/api/v1/update/${a.clientId}`, { token: a.token, json });
      expect(r.status, JSON.stringify(json)).toBe(400);
    }
    const bad = await call("PUT", `/api/v1/update/${a.clientId}`, { token: a.token, raw: "{", headers: { "content-type": "application/json" } });
    expect(bad.body.code).toBe("invalid_json");
    expect(await row(a.clientId)).toEqual(before);
  });

  it("a viewer's token is still refused (403)", async () => {
    const a = await registerProbe();
    const v = await createOperator("viewer");
    expect((await call("PUT", `/api/v1/update/${a.clientId}`, { token: v.token, json: {} })).status).toBe(403);
  });
});

describe("PUT /api/v1/update/:client_id checks revocation inside its own write", () => {
  const snapshot = async (id: string) => ({ probe: await row(id), history: await history(id) });
  const events = async (id: string) =>
    (await env.DB.prepare("SELECT type FROM events WHERE probe_id = ? ORDER BY id").bind(id).all<{ type: string }>()).results.map((e) => e.type);

  it("a logged-out token is a 401 invalid_token and the update, its history and its event are not written", async () => {
    const p = await registerProbe();
    expect((await call("POST", "/api/v1/logout", { token: p.token })).status).toBe(200);
    const before = await snapshot(p.clientId);
    const eventsBefore = await events(p.clientId);
    const r = await call("PUT", `/api/v1/update/${p.clientId}`, { token: p.token, json: { probe_cc: "FR", token: "stolen-route" } });
    expect([r.status, r.body.code]).toEqual([401, "invalid_token"]);
    expect(await snapshot(p.clientId)).toEqual(before);
    expect(await events(p.clientId)).toEqual(eventsBefore);
  });

  it("after logout everywhere every older token fails and a fresh login's token updates", async () => {
    const p = await registerProbe();
    const second = (await call("POST", "/api/v1/login", { json: { username: p.clientId, password: p.password } })).body.token as string;
    expect((await call("POST", "/api/v1/logout", { token: second, json: { everywhere: true } })).status).toBe(200);
    expect((await call("PUT", `/api/v1/update/${p.clientId}`, { token: p.token, json: { probe_cc: "FR" } })).status).toBe(401);
    expect((await row(p.clientId)).probe_cc).not.toBe("FR");
    const fresh = (await call("POST", "/api/v1/login", { json: { username: p.clientId, password: p.password } })).body.token as string;
    expect((await call("PUT", `/api/v1/update/${p.clientId}`, { token: fresh, json: { probe_cc: "FR" } })).status).toBe(200);
    expect((await row(p.clientId)).probe_cc).toBe("FR");
  });

  it("a disabled probe's token cannot update, and stays refused after the probe is enabled again", async () => {
    const p = await registerProbe();
    const admin = await adminToken();
    expect((await call("POST", `/api/v1/admin/clients/${p.clientId}/disable`, { token: admin })).status).toBe(200);
    const before = await snapshot(p.clientId);
    expect((await call("PUT", `/api/v1/update/${p.clientId}`, { token: p.token, json: { language: "fr" } })).status).toBe(401);
    expect(await snapshot(p.clientId)).toEqual(before);
    expect((await call("POST", `/api/v1/admin/clients/${p.clientId}/enable`, { token: admin })).status).toBe(200);
    expect((await call("PUT", `/api/v1/update/${p.clientId}`, { token: p.token, json: { language: "fr" } })).status).toBe(401);
    expect((await row(p.clientId)).language).not.toBe("fr");
  });

  it("another probe's revoked token is a 401 (revocation before the 403 for acting on someone else)", async () => {
    const a = await registerProbe();
    const b = await registerProbe();
    expect((await call("PUT", `/api/v1/update/${a.clientId}`, { token: b.token, json: {} })).status).toBe(403);
    await call("POST", "/api/v1/logout", { token: b.token });
    expect((await call("PUT", `/api/v1/update/${a.clientId}`, { token: b.token, json: {} })).status).toBe(401);
  });

  it("every statement of the largest update stays within D1's 100 bound parameters", async () => {
    const { dbFrom } = await import("../../functions/lib/db");
    const { probeUpdateBatch } = await import("../../functions/probes/store");
    const { tokenStands } = await import("../../functions/auth/revocation");
    const every = {
      probeCc: "IT",
      probeAsn: "AS1",
      platform: "android",
      softwareName: "x",
      softwareVersion: "1",
      supportedTests: '["web_connectivity"]',
      networkType: "wifi",
      availableBandwidth: "1",
      language: "it",
      probeFamily: "f",
      probeId: "p",
      pushToken: "t",
    };
    const batch = probeUpdateBatch(dbFrom(env.DB), "c", every, "2026-01-01T00:00:00.000Z", false, tokenStands("probe", "c", 3, "j"));
    const counts = batch.map((q) => q.toSQL().params.length);
    for (const n of counts) expect(n).toBeLessThanOrEqual(100);
    expect(Math.max(...counts)).toBeGreaterThan(20); // the bound is measured on the real statements, not on empty ones
  });
});

describe("GET /api/v1/test-helpers", () => {
  it("returns the configured map in the shape probe-cli decodes", async () => {
    const r = await call("GET", "/api/v1/test-helpers");
    expect(r.status).toBe(200);
    expect(r.body["web-connectivity"][0]).toEqual({ address: "https://0.th.ooni.org", type: "https" });
    for (const list of Object.values(r.body) as any[]) for (const h of list) expect(typeof h.address).toBe("string");
  });
});
