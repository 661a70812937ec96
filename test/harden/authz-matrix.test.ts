import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, adminToken, call, createOperator, registerProbe } from "../helpers";
import { PROTECTION } from "./protection";
import { fillPath, forge, honoPath, routeTable, signToken, unsigned } from "./routes";

const RANK = { viewer: 1, operator: 2, admin: 3 } as const;
const UNAUTHENTICATED = ["unauthorized", "invalid_token"];

type Creds = Awaited<ReturnType<typeof credentials>>;

async function credentials() {
  const admin = await adminToken();
  const operator = await createOperator("operator");
  const viewer = await createOperator("viewer");
  const gone = await createOperator("admin");
  expect((await call("DELETE", `/api/v1/admin/operators/${gone.username}`, { token: admin })).status).toBeLessThan(300);
  const probeA = await registerProbe();
  const probeB = await registerProbe();
  // Revoked: an admin's token logged out on its own, and a probe that logged out everywhere.
  const revokedOp = await createOperator("admin");
  expect((await call("POST", "/api/v1/logout", { token: revokedOp.token, json: {} })).status).toBeLessThan(300);
  const probeC = await registerProbe();
  expect((await call("POST", "/api/v1/logout", { token: probeC.token as string, json: { everywhere: true } })).status).toBeLessThan(300);
  // A task of probe A's, for probe B to try (tasks carry no copy of the job: a row is enough to be found).
  const taskId = `t-${crypto.randomUUID()}`;
  const at = new Date().toISOString();
  await (env as unknown as { DB: D1Database }).DB.prepare(
    "INSERT INTO tasks (id, job_id, run_id, probe_id, test_name, state, created_at, updated_at, expires_at) VALUES (?, 'j-authz', 'r-authz', ?, 'web_connectivity', 'notified', ?, ?, ?)",
  )
    .bind(taskId, probeA.clientId, at, at, new Date(Date.now() + 3600_000).toISOString())
    .run();
  return {
    admin,
    operator: operator.token,
    viewer: viewer.token,
    disabledOperator: gone.token,
    revokedAdmin: revokedOp.token,
    revokedProbe: probeC.token as string,
    revokedProbeId: probeC.clientId,
    probeA: probeA.token as string,
    probeAId: probeA.clientId,
    probeB: probeB.token as string,
    taskId,
    expiredAdmin: await signToken({ sub: ADMIN.username, kind: "operator", role: "admin" }, { expSecondsFromNow: -120 }),
    expiredProbeA: await signToken({ sub: probeA.clientId, kind: "probe", role: "probe" }, { expSecondsFromNow: -120 }),
    forgedAdmin: forge(admin),
    otherKeyAdmin: await signToken(
      { sub: ADMIN.username, kind: "operator", role: "admin" },
      { key: new TextEncoder().encode("not-the-service-secret-0123456789abcdef") },
    ),
    unsignedAdmin: unsigned(),
    kindMismatch: await signToken({ sub: ADMIN.username, kind: "operator", role: "admin" }, { audience: "edge-orchestra:probe" }),
    member: await signToken({ sub: "a".repeat(64), kind: "member", role: "member", grp: "g-authz" }),
    agent: await signToken({ sub: probeA.clientId, kind: "agent", role: "agent" }),
    school: await signToken({ sub: "SHF00000000", kind: "school", role: "school" }),
  };
}

function pathOf(route: string, creds: Creds): { method: string; path: string } {
  const [m, p] = route.split(" ");
  return {
    method: m === "ALL" ? "GET" : m,
    path: fillPath(p, {
      client_id: creds.probeAId,
      id: p.startsWith("/mesh/") ? "c".repeat(64) : creds.probeAId,
      task_id: creds.taskId,
      group: "g-authz",
      username: "nobody",
      country: "IT",
    }),
  };
}

async function hit(route: string, creds: Creds, token?: string, extra: { method?: string; headers?: Record<string, string>; json?: unknown } = {}) {
  const { method, path } = pathOf(route, creds);
  const m = extra.method ?? method;
  const withBody = !["GET", "HEAD", "DELETE"].includes(m);
  return call(m, path, { token, headers: extra.headers, ...(withBody ? { json: extra.json ?? {} } : {}) });
}

function expectEnvelope(r: { status: number; body: any }, status: number, codes: string[], what: string) {
  expect({ what, status: r.status }).toEqual({ what, status });
  expect(codes, `${what}: code ${JSON.stringify(r.body)}`).toContain(r.body?.code);
  expect(typeof r.body?.error, `${what}: error message`).toBe("string");
}

describe("the authorization matrix", () => {
  let creds: Creds;
  beforeAll(async () => {
    creds = await credentials();
  });

  it("classifies every route of the app: public with a reason, or protected", () => {
    const routes = routeTable();
    const unclassified = routes.filter((r) => !(r in PROTECTION) && !r.startsWith("GET /console") && !r.startsWith("POST /console"));
    expect(unclassified, "routes with no authorization decision: add them to PROTECTION").toEqual([]);
    const stale = Object.keys(PROTECTION).filter((r) => !routes.includes(r));
    expect(stale, "PROTECTION lists routes the app no longer has").toEqual([]);
  });

  it("every OpenAPI operation is a route of the table, and the protected ones declare bearer security", async () => {
    const doc = (await call("GET", "/openapi.json")).body;
    const routes = new Set(routeTable());
    for (const [p, item] of Object.entries<Record<string, { security?: unknown[] }>>(doc.paths)) {
      for (const [m, op] of Object.entries(item)) {
        const key = `${m.toUpperCase()} ${honoPath(p)}`;
        const proxied = p.startsWith("/proxy/") ? "ALL /proxy/*" : key;
        expect(routes.has(proxied), `${key} is documented but not mounted`).toBe(true);
        const prot = PROTECTION[proxied];
        if (prot && "operator" in prot) expect(op.security, `${key} is an operator route: document its bearer security`).toEqual([{ bearer: [] }]);
      }
    }
  });

  const operatorRoutes = Object.entries(PROTECTION).flatMap(([r, p]) => ("operator" in p ? [[r, p.operator] as const] : []));

  it.each(operatorRoutes)("%s refuses anonymous, expired, forged, unsigned, wrong-audience and disabled-account tokens with 401", async (route) => {
    for (const [what, token] of [
      ["no token", undefined],
      ["expired", creds.expiredAdmin],
      ["forged signature", creds.forgedAdmin],
      ["signed with another key", creds.otherKeyAdmin],
      ["alg none", creds.unsignedAdmin],
      ["kind/audience mismatch", creds.kindMismatch],
      ["disabled operator account", creds.disabledOperator],
    ] as const) {
      expectEnvelope(await hit(route, creds, token), 401, UNAUTHENTICATED, `${route} with ${what}`);
    }
    const malformed = await hit(route, creds, undefined, { headers: { authorization: "Basic YWRtaW46YWRtaW4=" } });
    expectEnvelope(malformed, 401, UNAUTHENTICATED, `${route} with a Basic header`);
  });

  it.each(operatorRoutes)("%s refuses device tokens (probe, agent, member, school) and roles below %s with 403", async (route, min) => {
    const tries: [string, string][] = [
      ["probe token", creds.probeA],
      ["agent token", creds.agent],
      ["member token", creds.member],
      ["school token", creds.school],
    ];
    if (RANK[min] > RANK.viewer) tries.push(["viewer", creds.viewer]);
    if (RANK[min] > RANK.operator) tries.push(["operator", creds.operator]);
    for (const [what, token] of tries) expectEnvelope(await hit(route, creds, token), 403, ["forbidden"], `${route} with a ${what}`);
    if (route === "ALL /proxy/*") {
      // Reads are viewer, anything else needs the operator role.
      expectEnvelope(await hit(route, creds, creds.viewer, { method: "POST" }), 403, ["forbidden"], "POST /proxy with a viewer");
    }
  });

  it("PUT /api/v1/update/:client_id takes only the probe's own token", async () => {
    const route = "PUT /api/v1/update/:client_id";
    for (const [what, token] of [
      ["no token (probe has a password)", undefined],
      ["expired", creds.expiredProbeA],
      ["forged", forge(creds.probeA)],
    ] as const)
      expectEnvelope(await hit(route, creds, token), 401, UNAUTHENTICATED, `${route} ${what}`);
    for (const [what, token] of [
      ["another probe", creds.probeB],
      ["an operator", creds.admin],
      ["a member", creds.member],
      ["an agent-kind token", creds.agent],
    ] as const)
      expectEnvelope(await hit(route, creds, token), 403, ["forbidden"], `${route} by ${what}`);
  });

  const taskRoutes = Object.entries(PROTECTION).flatMap(([r, p]) => ("probeTasks" in p ? [r] : []));

  it.each(taskRoutes)("%s needs a probe token, and another probe's task is not found", async (route) => {
    for (const [what, token] of [
      ["no token", undefined],
      ["expired", creds.expiredProbeA],
      ["forged", forge(creds.probeA)],
    ] as const)
      expectEnvelope(await hit(route, creds, token), 401, UNAUTHENTICATED, `${route} ${what}`);
    for (const [what, token] of [
      ["an operator", creds.admin],
      ["a member", creds.member],
      ["an agent-kind token", creds.agent],
    ] as const)
      expectEnvelope(await hit(route, creds, token), 403, ["forbidden"], `${route} by ${what}`);
    if (route.includes(":task_id")) {
      const r = await hit(route, creds, creds.probeB);
      // Another probe's task is refused without saying it exists (403 or 404, never its content).
      expect([403, 404, 400], `${route} by another probe: ${JSON.stringify(r.body)}`).toContain(r.status);
      expect(JSON.stringify(r.body)).not.toContain(creds.probeAId);
    } else {
      const r = await hit(route, creds, creds.probeB);
      expect(r.status).toBe(200);
      expect(JSON.stringify(r.body)).not.toContain(creds.taskId);
    }
  });

  it("GET /agents/:id/connect takes only the agent's own token", async () => {
    const route = "GET /agents/:id/connect";
    const ws = { upgrade: "websocket" };
    for (const [what, token] of [
      ["no token", undefined],
      ["expired", creds.expiredProbeA],
      ["forged", forge(creds.probeA)],
    ] as const)
      expectEnvelope(await hit(route, creds, token, { headers: ws }), 401, UNAUTHENTICATED, `${route} ${what}`);
    for (const [what, token] of [
      ["another probe", creds.probeB],
      ["an operator", creds.admin],
      ["a member", creds.member],
    ] as const)
      expectEnvelope(await hit(route, creds, token, { headers: ws }), 403, ["forbidden"], `${route} by ${what}`);
  });

  const meshRoutes = Object.entries(PROTECTION).flatMap(([r, p]) => ("meshSigned" in p ? [[r, p.meshSigned.operatorToo] as const] : []));

  it.each(meshRoutes)("%s refuses unsigned, badly signed and (unless operators may read) bearer callers", async (route, operatorToo) => {
    expectEnvelope(await hit(route, creds), 401, UNAUTHENTICATED, `${route} anonymous`);
    const signed = { "x-mesh-member": "b".repeat(64), "x-mesh-timestamp": String(Math.floor(Date.now() / 1000)), "x-mesh-signature": "AAAA" };
    // A signed request's body is part of what is signed: a well-formed one, so the signature is what is judged.
    const bad = await hit(route, creds, undefined, { headers: signed, json: { data: "hello" } });
    expect([401, 403, 404], `${route} bad signature: ${JSON.stringify(bad.body)}`).toContain(bad.status);
    expect(bad.body?.code).not.toBeUndefined();
    const stale = await hit(route, creds, undefined, { headers: { ...signed, "x-mesh-timestamp": "1000" }, json: { data: "hello" } });
    expectEnvelope(stale, 401, UNAUTHENTICATED, `${route} stale timestamp`);
    for (const [what, token] of [
      ["expired", creds.expiredAdmin],
      ["forged", creds.forgedAdmin],
    ] as const)
      expectEnvelope(await hit(route, creds, token), 401, UNAUTHENTICATED, `${route} ${what}`);
    if (operatorToo) {
      expectEnvelope(await hit(route, creds, creds.probeA), 403, ["forbidden"], `${route} by a probe`);
      expectEnvelope(await hit(route, creds, creds.member), 403, ["forbidden"], `${route} by a member bearer token`);
    } else {
      const r = await hit(route, creds, creds.admin);
      expectEnvelope(r, 401, UNAUTHENTICATED, `${route} with an operator token`);
    }
  });

  const consoleRoutes = routeTable().filter((r) => /^(GET|POST) \/console/.test(r) && !(r in PROTECTION));

  it.each(consoleRoutes)("%s sends a caller without a valid session to the login page", async (route) => {
    const { method, path } = pathOf(route, creds);
    for (const [what, cookie] of [
      ["no cookie", undefined],
      ["forged", creds.forgedAdmin],
      ["a probe's token", creds.probeA],
    ] as const) {
      const headers: Record<string, string> = cookie ? { cookie: `__Secure-eo_session=${cookie}` } : {};
      if (method === "POST") Object.assign(headers, { "content-type": "application/x-www-form-urlencoded", origin: "https://probes.example.org" });
      const r = await (exports as unknown as { default: Fetcher }).default.fetch(
        new Request(`https://probes.example.org${path}`, { method, headers, redirect: "manual", ...(method === "POST" ? { body: "a=1" } : {}) }),
      );
      await r.text();
      expect([303, 302, 401, 403], `${route} with ${what}: ${r.status}`).toContain(r.status);
      if (r.status < 400) expect(r.headers.get("location"), `${route} with ${what}`).toMatch(/^\/console\/login/);
    }
  });

  it("POST /minions/_bench/seed is not found for anyone while the benchmark setting is off", async () => {
    for (const token of [undefined, creds.admin, creds.probeA, creds.expiredAdmin])
      expectEnvelope(await hit("POST /minions/_bench/seed", creds, token), 404, ["not_found"], "bench seed");
  });

  it.each(operatorRoutes)("%s refuses a logged-out (revoked) operator token with 401", async (route) => {
    expectEnvelope(await hit(route, creds, creds.revokedAdmin), 401, UNAUTHENTICATED, `${route} with a revoked token`);
  });

  it("a probe that logged out everywhere can no longer update itself or pull its tasks with its old token", async () => {
    const update = await call("PUT", `/api/v1/update/${creds.revokedProbeId}`, { token: creds.revokedProbe, json: { network_type: "wifi" } });
    expectEnvelope(update, 401, UNAUTHENTICATED, "PUT /api/v1/update with a revoked probe token");
    expectEnvelope(await call("GET", "/api/v1/tasks", { token: creds.revokedProbe }), 401, UNAUTHENTICATED, "GET /api/v1/tasks with a revoked probe token");
  });
});
