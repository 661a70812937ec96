import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../functions/app";
import { TASK_JOB } from "../campaigns/helpers";
import { adminToken, BASE, call, probeSecret, seedProbe } from "../helpers";
import { groupName, makeCsr } from "../mesh/ca-helpers";
import { pythonRegisterCall, sshKey, xo } from "../school/helpers";
import { faultyD1 } from "./faulty-d1";

/**
 * A D1 error on a write is a 503 in the surface's envelope with nothing half-applied. Each write route family is
 * run once cleanly through a counting D1 binding (how many database calls it makes), then once per call N with the
 * N-th call failing as D1 fails when unreachable: every such request must answer 503 (XML-RPC: a fault) and leave
 * every table exactly as it was. A new write route is one more row in WRITES.
 */
type Envelope = "api" | "school" | "xmlrpc";
type Prepared = { request: () => Request; ok: number };
type WriteRoute = { name: string; envelope: Envelope; prepare: () => Promise<Prepared> };

let admin = "";
const json = (method: string, path: string, body: unknown, token?: string) => () =>
  new Request(`${BASE}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function futureJob(): Promise<string> {
  const r = await call("POST", "/api/v1/admin/job", { json: { ...TASK_JOB, schedule: "R10/2030-01-01T00:00:00Z/P1D" }, token: admin });
  if (r.status !== 200) throw new Error(`job: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

const WRITES: WriteRoute[] = [
  {
    name: "POST /api/v1/register",
    envelope: "api",
    prepare: async () => ({
      request: json("POST", "/api/v1/register", seedProbe({ probe_asn: `AS${Math.floor(Math.random() * 1e9)}`, password: probeSecret() })),
      ok: 200,
    }),
  },
  {
    name: "PUT /api/v1/update/:client_id",
    envelope: "api",
    prepare: async () => {
      const r = await call("POST", "/api/v1/register", { json: seedProbe() });
      return { request: json("PUT", `/api/v1/update/${r.body.client_id}`, { network_type: "mobile", token: `t-${crypto.randomUUID()}` }), ok: 200 };
    },
  },
  {
    name: "POST /api/v1/admin/operators",
    envelope: "api",
    prepare: async () => ({
      request: json(
        "POST",
        "/api/v1/admin/operators",
        { username: `op-${crypto.randomUUID().slice(0, 8)}`, password: "correct horse battery staple", role: "viewer" },
        admin,
      ),
      ok: 201,
    }),
  },
  {
    name: "POST /api/v1/admin/job",
    envelope: "api",
    prepare: async () => ({ request: json("POST", "/api/v1/admin/job", { ...TASK_JOB, schedule: "R10/2030-01-01T00:00:00Z/P1D" }, admin), ok: 200 }),
  },
  {
    name: "POST /api/v1/admin/job/:id/pause",
    envelope: "api",
    prepare: async () => ({ request: json("POST", `/api/v1/admin/job/${await futureJob()}/pause`, undefined, admin), ok: 200 }),
  },
  {
    name: "DELETE /api/v1/admin/job/:id",
    envelope: "api",
    prepare: async () => ({ request: json("DELETE", `/api/v1/admin/job/${await futureJob()}`, undefined, admin), ok: 200 }),
  },
  {
    name: "POST /api/v1/login (wrong password: audit row and failure count)",
    envelope: "api",
    prepare: async () => {
      const username = `op-${crypto.randomUUID().slice(0, 8)}`;
      await call("POST", "/api/v1/admin/operators", { json: { username, password: "correct horse battery staple", role: "viewer" }, token: admin });
      return { request: json("POST", "/api/v1/login", { username, password: "wrong horse battery staple" }), ok: 401 };
    },
  },
  {
    name: "POST /api/v1/login (after a failure: audit row and the failures cleared)",
    envelope: "api",
    prepare: async () => {
      const username = `op-${crypto.randomUUID().slice(0, 8)}`;
      await call("POST", "/api/v1/admin/operators", { json: { username, password: "correct horse battery staple", role: "viewer" }, token: admin });
      await call("POST", "/api/v1/login", { json: { username, password: "wrong horse battery staple" } });
      return { request: json("POST", "/api/v1/login", { username, password: "correct horse battery staple" }), ok: 200 };
    },
  },
  {
    name: "POST /client/register",
    envelope: "school",
    prepare: async () => ({ request: json("POST", "/client/register", { uuid: crypto.randomUUID(), nickname: "pupil", pubkey: sshKey() }), ok: 200 }),
  },
  {
    name: "POST /RPC2 register",
    envelope: "xmlrpc",
    prepare: async () => {
      const m = xo();
      const body = pythonRegisterCall(m.serial, "pupil", m.uuid, sshKey());
      return { request: () => new Request(`${BASE}/RPC2`, { method: "POST", headers: { "content-type": "text/xml" }, body }), ok: 200 };
    },
  },
  {
    name: "POST /activation (a lease signed and stored)",
    envelope: "school",
    prepare: async () => {
      const m = xo();
      const r = await call("POST", "/api/v1/admin/school/machines", { json: { machines: [m] }, token: admin });
      if (r.status !== 200) throw new Error(`import: ${r.status}`);
      return {
        request: () => new Request(`${BASE}/activation`, { method: "POST", headers: { "content-type": "text/plain" }, body: `${m.serial}\n` }),
        ok: 200,
      };
    },
  },
  {
    name: "POST /mesh/:group/certificateRequest",
    envelope: "api",
    prepare: async () => {
      const name = groupName("fault");
      const g = await call("POST", "/api/v1/admin/mesh/groups", { json: { name }, token: admin });
      if (g.status !== 201) throw new Error(`group: ${g.status}`);
      const csr = await makeCsr();
      return {
        request: () => new Request(`${BASE}/mesh/${name}/certificateRequest`, { method: "POST", headers: { "content-type": "text" }, body: csr.der }),
        ok: 200,
      };
    },
  },
  {
    name: "POST /api/v1/agents/register",
    envelope: "api",
    prepare: async () => ({ request: json("POST", "/api/v1/agents/register", { name: `agent-${crypto.randomUUID().slice(0, 8)}` }), ok: 201 }),
  },
];

/**
 * Columns a route deliberately commits before the write that can fail, each with its reason. POST /activation
 * records that a machine asked (its last_seen_at) in the round trip that reads it, before a lease is signed: the
 * ask happened whether or not a lease is stored (functions/school/activation.ts).
 */
const COMMITTED_FIRST: Record<string, Record<string, string[]>> = {
  "POST /activation (a lease signed and stored)": { school_machines: ["last_seen_at"] },
};

/** Every table's rows, as text (D1's own bookkeeping aside). */
async function snapshot(ignore: Record<string, string[]> = {}): Promise<Record<string, string>> {
  const tables = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' ORDER BY name",
  ).all<{ name: string }>();
  const out: Record<string, string> = {};
  for (const { name } of tables.results) {
    const rows = (await env.DB.prepare(`SELECT * FROM "${name}" ORDER BY 1`).all<Record<string, unknown>>()).results;
    out[name] = JSON.stringify(rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !(ignore[name] ?? []).includes(k)))));
  }
  return out;
}

/** One request through the app on an env whose D1 binding fails as planned; waits for its waitUntil work. */
async function send(req: Request, db: D1Database) {
  const pending: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => pending.push(p.catch(() => undefined)), passThroughOnException: () => {}, props: {} };
  const res = await createApp().fetch(req, { ...env, DB: db }, ctx as unknown as ExecutionContext);
  const text = await res.text();
  await Promise.all(pending);
  return { status: res.status, text, type: res.headers.get("content-type") ?? "", retryAfter: res.headers.get("retry-after") };
}

function expectRefusal(envelope: Envelope, r: Awaited<ReturnType<typeof send>>) {
  if (envelope === "xmlrpc") {
    expect(r.status).toBe(200);
    expect(r.text).toContain("<fault>");
    expect(r.text).toMatch(/may or may not|unavailable/);
    return;
  }
  expect(r.status).toBe(503);
  expect(r.retryAfter).toBe("5");
  const body = JSON.parse(r.text);
  expect(["unavailable", "outcome_unknown"]).toContain(body.code);
  if (envelope === "school") expect(body.success).toBe("ERR");
  else expect(Object.keys(body).sort()).toEqual(["code", "error"]);
}

beforeAll(async () => {
  admin = await adminToken();
});

describe("a D1 failure on a write route", () => {
  for (const route of WRITES) {
    it(`${route.name}: every database call failing in turn gives a 503 in the surface's envelope and changes no table`, async () => {
      const clean = await route.prepare();
      const counting = faultyD1(env.DB);
      const ok = await send(clean.request(), counting.db);
      expect(ok.status, ok.text).toBe(clean.ok);
      const calls = counting.calls();
      expect(calls).toBeGreaterThan(0);
      for (let n = 1; n <= calls; n++) {
        const p = await route.prepare();
        const before = await snapshot(COMMITTED_FIRST[route.name]);
        const faulty = faultyD1(env.DB, { failAt: n, when: "before" });
        const r = await send(p.request(), faulty.db);
        expect(faulty.fired(), `call ${n} of ${calls}`).toBe(true);
        expectRefusal(route.envelope, r);
        expect(await snapshot(COMMITTED_FIRST[route.name]), `call ${n} of ${calls} failed: ${r.text}`).toEqual(before);
      }
    });
  }
});
