import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../functions/app";
import { BASE, call, probeSecret, seedProbe } from "../helpers";
import { faultyD1 } from "../harden/faulty-d1";

const probesWith = async (clause: string, ...binds: unknown[]) =>
  (await env.DB.prepare(`SELECT COUNT(*) AS n FROM probes WHERE ${clause}`)
    .bind(...binds)
    .first<{ n: number }>())!.n;
const registeredEvents = async (id: string) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE type = 'probe.registered' AND probe_id = ?").bind(id).first<{ n: number }>())!.n;

/** A register body unique to one test (its own country/ASN pair and a fresh password). */
function uniqueBody(over: Record<string, unknown> = {}): ReturnType<typeof seedProbe> & { password?: string } {
  return seedProbe({ probe_asn: `AS${Math.floor(Math.random() * 1e9)}`, token: `fcm-${crypto.randomUUID()}`, password: probeSecret(), ...over });
}

/** The app on an env of the test's choosing (the seam fault tests use: every service is built from this env). */
async function viaApp(vars: Record<string, unknown>, body: unknown, headers: Record<string, string> = {}) {
  const res = await createApp().fetch(
    new Request(`${BASE}/api/v1/register`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }),
    { ...env, ...vars },
  );
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe("POST /api/v1/register retried", () => {
  it("gives a retry with the same Idempotency-Key and body the first client_id, marked as a replay, and stores one probe", async () => {
    const body = uniqueBody();
    const headers = { "idempotency-key": crypto.randomUUID() };
    const first = await call("POST", "/api/v1/register", { json: body, headers });
    const again = await call("POST", "/api/v1/register", { json: body, headers });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body.client_id).toBe(first.body.client_id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(await probesWith("probe_asn = ?", body.probe_asn)).toBe(1);
    expect(await registeredEvents(first.body.client_id)).toBe(1);
  });

  it("refuses the same Idempotency-Key with a different body (422 idempotency_key_reused) and stores nothing more", async () => {
    const body = uniqueBody();
    const headers = { "idempotency-key": crypto.randomUUID() };
    const first = await call("POST", "/api/v1/register", { json: body, headers });
    const other = await call("POST", "/api/v1/register", { json: { ...body, software_version: "9.9.9" }, headers });
    expect(first.status).toBe(200);
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    expect(await probesWith("probe_asn = ?", body.probe_asn)).toBe(1);
  });

  it("recognises an exact replay of a body with a password without any header, and the client logs in with the client_id it got", async () => {
    const body = uniqueBody();
    const first = await call("POST", "/api/v1/register", { json: body });
    // Field order is not part of the body's identity.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const again = await call("POST", "/api/v1/register", { json: reordered });
    expect(again.status).toBe(200);
    expect(again.body.client_id).toBe(first.body.client_id);
    const login = await call("POST", "/api/v1/login", { json: { username: again.body.client_id, password: body.password } });
    expect(login.status).toBe(200);
    expect(await probesWith("probe_asn = ?", body.probe_asn)).toBe(1);
  });

  it("treats probe-cli's own retry (the same metadata with a freshly drawn password) as a new probe, so each password logs in", async () => {
    const a = uniqueBody();
    const b = { ...a, password: probeSecret() };
    const first = await call("POST", "/api/v1/register", { json: a });
    const second = await call("POST", "/api/v1/register", { json: b });
    expect(second.body.client_id).not.toBe(first.body.client_id);
    for (const [r, body] of [
      [first, a],
      [second, b],
    ] as const) {
      expect((await call("POST", "/api/v1/login", { json: { username: r.body.client_id, password: body.password } })).status).toBe(200);
    }
  });

  it("never merges passwordless bodies (even with a push token) unless a key is sent", async () => {
    const body = uniqueBody({ password: undefined });
    const first = await call("POST", "/api/v1/register", { json: body });
    const second = await call("POST", "/api/v1/register", { json: body });
    expect(second.body.client_id).not.toBe(first.body.client_id);
    expect(await probesWith("probe_asn = ? AND register_key IS NULL", body.probe_asn)).toBe(2);
    const headers = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const keyed = await call("POST", "/api/v1/register", { json: body, headers });
    expect((await call("POST", "/api/v1/register", { json: body, headers })).body.client_id).toBe(keyed.body.client_id);
    expect(await probesWith("probe_asn = ?", body.probe_asn)).toBe(3);
  });

  it("registers a new probe for a replay that comes after REGISTER_REPLAY_WINDOW_S, releasing the old key", async () => {
    const body = uniqueBody();
    const first = await call("POST", "/api/v1/register", { json: body });
    await env.DB.prepare("UPDATE probes SET created_at = '2020-01-01T00:00:00.000Z' WHERE id = ?").bind(first.body.client_id).run();
    const later = await call("POST", "/api/v1/register", { json: body });
    expect(later.status).toBe(200);
    expect(later.body.client_id).not.toBe(first.body.client_id);
    expect(await probesWith("id = ? AND register_key IS NULL", first.body.client_id)).toBe(1);
    expect((await call("POST", "/api/v1/register", { json: body })).body.client_id).toBe(later.body.client_id);
  });

  it("does not recognise retries at all when REGISTER_REPLAY_WINDOW_S is 0", async () => {
    const body = uniqueBody();
    const a = await viaApp({ REGISTER_REPLAY_WINDOW_S: "0" }, body);
    const b = await viaApp({ REGISTER_REPLAY_WINDOW_S: "0" }, body);
    expect(b.body.client_id).not.toBe(a.body.client_id);
  });

  it("refuses a malformed Idempotency-Key with 400 and stores nothing", async () => {
    const body = uniqueBody();
    const r = await call("POST", "/api/v1/register", { json: body, headers: { "idempotency-key": "x".repeat(300) } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("validation_failed");
    expect(await probesWith("probe_asn = ?", body.probe_asn)).toBe(0);
  });

  it("stores one probe when an identical registration commits between the lookup and the insert (the unique key decides)", async () => {
    const body = uniqueBody();
    let winner = "";
    const faulty = faultyD1(env.DB, {
      beforeBatch: async () => {
        winner = (await call("POST", "/api/v1/register", { json: body })).body.client_id;
      },
    });
    const r = await viaApp({ DB: faulty.db }, body);
    expect(r.status).toBe(200);
    expect(r.body.client_id).toBe(winner);
    expect(r.headers.get("idempotent-replayed")).toBe("true");
    expect(await probesWith("probe_asn = ?", body.probe_asn)).toBe(1);
  });
});

describe("POST /api/v1/register when the database does not confirm", () => {
  it("answers 503 outcome_unknown with Retry-After when its shared batch outlives COMMIT_WAIT_MS, and the retry gets the committed client_id", async () => {
    const body = uniqueBody();
    let release!: () => void;
    const hold = new Promise<void>((r) => {
      release = r;
    });
    const slow = faultyD1(env.DB, { hold });
    const r = await viaApp({ DB: slow.db, GROUP_COMMIT: "on", COMMIT_WAIT_MS: "50" }, body);
    expect(r.status).toBe(503);
    expect(r.body.code).toBe("outcome_unknown");
    expect(r.headers.get("retry-after")).toBe("5");
    // The batch the request stopped waiting for still commits.
    release();
    await Promise.all(slow.batches);
    expect(await probesWith("probe_asn = ?", body.probe_asn)).toBe(1);
    const retry = await call("POST", "/api/v1/register", { json: body });
    expect(retry.status).toBe(200);
    expect(await probesWith("id = ? AND probe_asn = ?", retry.body.client_id, body.probe_asn)).toBe(1);
    expect(await probesWith("probe_asn = ?", body.probe_asn)).toBe(1);
  });

  it("answers 503 outcome_unknown when the batch committed but its answer was lost, and the keyed retry gets that client_id", async () => {
    const body = uniqueBody({ password: undefined, token: undefined });
    const headers = { "idempotency-key": crypto.randomUUID() };
    const lost = faultyD1(env.DB, { failAt: 1, when: "after" }); // 1: the batch (a stored key is only read when the insert yields to it)
    const r = await viaApp({ DB: lost.db }, body, headers);
    expect(lost.fired()).toBe(true);
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: expect.stringMatching(/may or may not/), code: "outcome_unknown" });
    const retry = await call("POST", "/api/v1/register", { json: body, headers });
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await probesWith("probe_asn = ?", body.probe_asn)).toBe(1);
  });

  it("answers an update whose batch is not confirmed with 503 outcome_unknown", async () => {
    const reg = await call("POST", "/api/v1/register", { json: uniqueBody({ password: undefined }) });
    const lost = faultyD1(env.DB, { failAt: 1, when: "before" });
    const res = await createApp().fetch(
      new Request(`${BASE}/api/v1/update/${reg.body.client_id}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: '{"network_type":"mobile"}',
      }),
      { ...env, DB: lost.db },
    );
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).code).toBe("outcome_unknown");
    expect(await probesWith("id = ? AND network_type = 'wifi'", reg.body.client_id)).toBe(1);
  });
});
