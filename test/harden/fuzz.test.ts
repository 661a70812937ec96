import { env, exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, adminToken, call, registerProbe } from "../helpers";
import { snapshot } from "./routes";

/**
 * Property-based fuzzing of every operation in the app's OpenAPI document plus the non-JSON surfaces (XML-RPC,
 * CSRs, text/plain activation, WebSocket frames). Properties: never a 5xx; a refusal is the surface's envelope;
 * a refused request leaves the database as it was. Runs are bounded (RUNS per operation, TIME_LIMIT_MS each).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 6);
const TIME_LIMIT_MS = 1500;
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);

type Op = { method: string; path: string; params: { name: string; in: string }[]; body?: { type: string; schema: any }; secured: boolean };

/** Responses of the school surface carry `success: "ERR"` too; XML-RPC answers faults with 200 (POST / refuses a non-XML body with 415). */
const SCHOOL = /^\/(client\/|backup\/|activation$|\.well-known\/|RPC2$|$)/;
const XMLRPC = new Set(["/", "/RPC2"]);
/** Operations fuzzed separately (WebSocket upgrades) or that relay to a third party by design. */
const OWN_SECTION = new Set(["GET /agents/{id}/connect", "GET /mesh/{group}/members/{id}/connect"]);

const nasty = fc.constantFrom(
  "",
  " ",
  "..",
  "../../etc/passwd",
  "%00",
  "\u0000",
  "\uD800",
  "😀".repeat(40),
  "a".repeat(6000),
  "-1",
  "0",
  "1e309",
  "NaN",
  "null",
  "true",
  "[]",
  "{}",
  "<x/>",
  "' OR 1=1 --",
  "%",
  "%zz",
  "AS0",
  "ZZ",
  "9007199254740993",
);
const str = fc.oneof(nasty, fc.string({ maxLength: 24 }), fc.string({ unit: "grapheme", maxLength: 12 }), fc.integer().map(String));
const value: fc.Arbitrary<unknown> = fc.oneof(
  str,
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.double(),
  fc.constantFrom(1e308, -1, 2 ** 63, 0, -0.5),
  fc.boolean(),
  fc.constant(null),
  fc.array(str, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), str, { maxKeys: 3 }),
);
const malformedJson = fc.constantFrom("{", "[1,", '"', '{"a":}', "{".repeat(3000), "\u0000", "nul", '{"__proto__":{"x":1}}', "[]", "1", '""', "null");
const contentType = fc.constantFrom(
  "application/json",
  "text/plain",
  "application/xml",
  "",
  "application/json; charset=utf-16",
  "multipart/form-data; boundary=x",
);

/** A body for a JSON schema: its properties with hostile values, some left out, plus unknown fields; or not an object at all. */
function bodyFor(schema: any): fc.Arbitrary<string> {
  const props = Object.keys(schema?.properties ?? {});
  const object = fc
    .record({
      known: fc.record(Object.fromEntries(props.map((p) => [p, value])), { requiredKeys: [] }),
      extra: fc.dictionary(fc.string({ maxLength: 8 }), value, { maxKeys: 2 }),
    })
    .map(({ known, extra }) => JSON.stringify({ ...extra, ...known }));
  return fc.oneof(
    { weight: 4, arbitrary: object },
    malformedJson,
    fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    str,
  );
}

function operations(doc: any): Op[] {
  const ops: Op[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      const content = op.requestBody?.content ?? {};
      const type = Object.keys(content)[0];
      ops.push({
        method: method.toUpperCase(),
        path,
        params: op.parameters ?? [],
        body: type ? { type, schema: content[type].schema } : undefined,
        secured: Array.isArray(op.security) && op.security.length > 0,
      });
    }
  }
  return ops;
}

type Tokens = { admin: string; probe: string; probeId: string };

function requestFor(op: Op, tokens: Tokens) {
  const pathParams = op.path.match(/\{[^}]+\}/g) ?? [];
  const query = op.params.filter((p) => p.in === "query").map((p) => p.name);
  const token = /^\/api\/v1\/(update|tasks?)\b/.test(op.path) ? tokens.probe : tokens.admin;
  return fc.record({
    params: fc.array(fc.oneof(str, fc.constant(tokens.probeId)), { minLength: pathParams.length, maxLength: pathParams.length }),
    query: fc.record(Object.fromEntries([...query, "unknown_field"].map((q) => [q, str])), { requiredKeys: [] }),
    body: op.body ? bodyFor(op.body.schema) : fc.option(str, { nil: undefined }),
    type: op.body ? fc.oneof({ weight: 3, arbitrary: fc.constant(op.body.type) }, contentType) : contentType,
    token: op.secured ? fc.option(fc.constant(token), { freq: 4, nil: undefined }) : fc.constant(undefined),
  });
}

async function send(op: Op, r: { params: string[]; query: Record<string, string | undefined>; body?: string; type: string; token?: string }) {
  let i = 0;
  const path = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(r.params[i++] ?? "x"));
  const qs = new URLSearchParams(Object.entries(r.query).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  const headers: Record<string, string> = r.type ? { "content-type": r.type } : {};
  const withBody = !["GET", "HEAD"].includes(op.method) && r.body !== undefined;
  return call(op.method, `${path}${qs ? `?${qs}` : ""}`, { token: r.token, headers, ...(withBody ? { raw: r.body } : {}) });
}

const db = () => (env as unknown as { DB: D1Database }).DB;

/** One cheap batch: every table's row count (the per-request check; `snapshot()` checksums per operation). */
async function counts(): Promise<string> {
  const { results } = await db()
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'")
    .all<{ name: string }>();
  const rows = await db().batch(results.map(({ name }) => db().prepare(`SELECT '${name}' AS t, count(*) AS n FROM "${name}"`)));
  return JSON.stringify(rows.map((r) => r.results[0]));
}

/**
 * The one legitimate change a refused request makes: a refused login (401, or 429 once the account is locked) is
 * recorded (docs/security.md "Rate limits and login abuse"): the account's failure count, an `auth.login_failed`
 * event, a `login.failed` audit entry. Only on the routes that check a password, only in those tables, only rows of
 * those kinds; anything else a refused request changes is still a failure.
 */
const LOGIN_ROUTES = new Set(["POST /api/v1/login", "POST /api/v1/password"]);
const LOGIN_RECORD_TABLES = ["login_failures", "events", "audit_log"] as const;
const LOGIN_REFUSALS = new Set([401, 403, 429]);

type Marks = { counts: string; eventId: number; auditSeq: number };
async function marks(): Promise<Marks> {
  const [e, a] = await db().batch([
    db().prepare("SELECT COALESCE(MAX(id), 0) AS m FROM events"),
    db().prepare("SELECT COALESCE(MAX(seq), 0) AS m FROM audit_log"),
  ]);
  return { counts: await counts(), eventId: (e.results[0] as { m: number }).m, auditSeq: (a.results[0] as { m: number }).m };
}

/** Whether the changes since `before` are exactly a refused login's records (and at least one of them). */
async function onlyLoginRecords(before: Marks): Promise<boolean> {
  const was = new Map((JSON.parse(before.counts) as { t: string; n: number }[]).map((r) => [r.t, r.n]));
  const changed = (JSON.parse(await counts()) as { t: string; n: number }[]).filter((r) => was.get(r.t) !== r.n).map((r) => r.t);
  if (changed.length === 0 || !changed.every((t) => (LOGIN_RECORD_TABLES as readonly string[]).includes(t))) return false;
  const [e, a] = await db().batch([
    db().prepare("SELECT DISTINCT type AS k FROM events WHERE id > ?").bind(before.eventId),
    db().prepare("SELECT DISTINCT action AS k FROM audit_log WHERE seq > ?").bind(before.auditSeq),
  ]);
  const kinds = (r: D1Result) => (r.results as { k: string }[]).map((x) => x.k);
  return kinds(e).every((k) => k === "auth.login_failed") && kinds(a).every((k) => k === "login.failed" || k === "operator.password_change_failed");
}

function expectRefusal(op: Op, status: number, body: any, text: string) {
  const where = `${op.method} ${op.path} → ${status} ${text.slice(0, 300)}`;
  expect(status, where).toBeLessThan(500);
  if (status < 400) return;
  expect(typeof body?.error, `${where}: envelope error`).toBe("string");
  expect(typeof body?.code, `${where}: envelope code`).toBe("string");
  if (SCHOOL.test(op.path)) expect(body.success, `${where}: school envelope`).toBe("ERR");
}

describe("fuzzing every OpenAPI operation", () => {
  let tokens: Tokens;
  let ops: Op[];
  beforeAll(async () => {
    const p = await registerProbe();
    tokens = { admin: await adminToken(), probe: p.token as string, probeId: p.clientId };
    ops = operations((await call("GET", "/openapi.json")).body);
  });

  it("a refused login's allowance is exactly its records: a failed login passes it, any other change does not", async () => {
    const m0 = await marks();
    const r = await call("POST", "/api/v1/login", { json: { username: "nobody-fuzz", password: "wrong" } });
    expect(r.status).toBe(401);
    expect(await counts(), "a failed login is recorded").not.toBe(m0.counts);
    expect(await onlyLoginRecords(m0)).toBe(true);
    // Another kind of event, or a row in another table, is not a failed login's record.
    const at = new Date().toISOString();
    const m1 = await marks();
    await db()
      .prepare("INSERT INTO events (at, type, actor, subject_kind, subject_id, data) VALUES (?, 'probe.disabled', 'system', 'probe', 'x', '{}')")
      .bind(at)
      .run();
    expect(await onlyLoginRecords(m1)).toBe(false);
    expect(await onlyLoginRecords(await marks()), "no change at all is not a recorded login either").toBe(false);
  });

  it("the document lists the operations the fuzzer covers", () => {
    expect(ops.length).toBeGreaterThan(50);
  });

  it("no operation answers a hostile request with a 5xx, a refusal is the surface's envelope, and a refusal changes nothing", async () => {
    const started = Date.now();
    for (const op of ops) {
      if (OWN_SECTION.has(`${op.method} ${op.path}`)) continue;
      const key = `${op.method} ${op.path}`;
      const loginRoute = LOGIN_ROUTES.has(key);
      const before = await snapshot();
      const beforeOthers = loginRoute ? await snapshot(LOGIN_RECORD_TABLES) : "";
      let accepted = 0;
      let recorded = 0;
      await fc.assert(
        fc.asyncProperty(requestFor(op, tokens), async (r) => {
          const m0 = loginRoute ? await marks() : null;
          const c0 = m0?.counts ?? (await counts());
          const res = await send(op, r);
          const text = typeof res.body === "string" ? res.body : JSON.stringify(res.body);
          if (XMLRPC.has(op.path) && res.status !== 415) {
            expect(res.status, `${op.path}: XML-RPC answers 200`).toBe(200);
            if (/<fault>/.test(text)) expect(await counts(), `${op.path}: a fault changes nothing`).toBe(c0);
            else accepted++;
            return;
          }
          if (op.path.startsWith("/backup/uuid/available/") && res.status === 403) {
            // ds-backup's own refusal: an HTML line, as the XS server answers it.
            expect(res.headers.get("content-type")).toMatch(/^text\/html/);
          } else if (op.path === "/activation" && res.status === 400) {
            // The activation protocol's own refusal (what the TCP relay hands the laptop), not JSON.
            expect(res.body).toBe("UNKNOWN\n");
          } else if (res.status === 413) {
            expect(res.body?.code).toBe("payload_too_large");
            if (SCHOOL.test(op.path)) expect(res.body?.success, `${op.path}: a 413 in the school envelope`).toBe("ERR");
          } else expectRefusal(op, res.status, res.body, text);
          if (res.status < 400) accepted++;
          else if (m0 && LOGIN_REFUSALS.has(res.status) && (await counts()) !== c0) {
            expect(await onlyLoginRecords(m0), `${key} refused (${res.status}) and changed more than a failed login's records: ${text.slice(0, 200)}`).toBe(
              true,
            );
            recorded++;
          } else expect(await counts(), `${key} refused (${res.status}) yet changed rows: ${text.slice(0, 200)}`).toBe(c0);
        }),
        { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: TIME_LIMIT_MS, endOnFailure: true },
      );
      // Refused logins that were recorded: every other table is as it was.
      if (accepted === 0 && recorded > 0)
        expect(await snapshot(LOGIN_RECORD_TABLES), `${key}: refused logins changed more than their records`).toBe(beforeOthers);
      else if (accepted === 0) expect(await snapshot(), `${key}: refused requests changed the database`).toBe(before);
    }
    console.log(`fuzzed ${ops.length} operations in ${Date.now() - started} ms`);
  }, 240_000);
});

describe("fuzzing the non-JSON surfaces", () => {
  const xmlText = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.constantFrom(
      "<?xml version='1.0'?><methodCall><methodName>register</methodName></methodCall>",
      "<methodCall><methodName>register</methodName><params><param><value><int>99999999999999999999</int></value></param></params></methodCall>",
      "<methodCall><methodName>nope</methodName><params/></methodCall>",
      '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><methodCall><methodName>&b;</methodName></methodCall>',
      "<methodCall><methodName>register</methodName><params><param><value><struct><member><name>serial</name><value><array><data/></array></value></member></struct></value></param></params></methodCall>",
      `<methodCall><methodName>register</methodName><params>${"<param><value><string>x</string></value></param>".repeat(200)}</params></methodCall>`,
      "<methodCall>".repeat(500),
    ),
    str.map((s) => `<methodCall><methodName>register</methodName><params><param><value><string>${s}</string></value></param></params></methodCall>`),
  );

  it.each(["/", "/RPC2"])(
    "XML-RPC at POST %s answers garbage with 200 and a fault, changing nothing",
    async (path) => {
      const before = await snapshot();
      await fc.assert(
        fc.asyncProperty(xmlText, fc.constantFrom("text/xml", "application/xml", "text/plain", ""), async (xml, type) => {
          const r = await call("POST", path, { raw: xml, headers: type ? { "content-type": type } : {} });
          if (path === "/" && r.status === 415) {
            // POST / is XML-RPC only for XML (Sugar sends text/xml); anything else is refused in the school envelope.
            expect(/xml/.test(type) || xml.trimStart().startsWith("<"), "an XML body was refused").toBe(false);
            expect(r.body?.success).toBe("ERR");
            return;
          }
          expect(r.status, String(r.body).slice(0, 200)).toBe(200);
          expect(String(r.body)).toContain("<fault>");
        }),
        { numRuns: 25, seed: SEED, interruptAfterTimeLimit: 8000 },
      );
      expect(await snapshot()).toBe(before);
    },
    30_000,
  );

  const pemish = fc.oneof(
    str,
    fc
      .uint8Array({ maxLength: 300 })
      .map((b) => `-----BEGIN CERTIFICATE REQUEST-----\n${btoa(String.fromCharCode(...b))}\n-----END CERTIFICATE REQUEST-----\n`),
    fc.constantFrom(
      "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----",
      "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----",
    ),
    fc.uint8Array({ maxLength: 300 }).map((b) => String.fromCharCode(...b)),
  );

  it("CSR bodies at POST /mesh/:group/certificateRequest are refused in the envelope, changing nothing", async () => {
    const admin = await adminToken();
    const group = `fz-${crypto.randomUUID().slice(0, 8)}`;
    const g = await call("POST", "/api/v1/admin/mesh/groups", { token: admin, json: { name: group, open: true } });
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(
        pemish,
        fc.constantFrom("application/pkcs10", "application/x-pem-file", "text/plain", "application/json", ""),
        fc.constantFrom(group, "nope", "%00", "a".repeat(300)),
        async (csr, type, grp) => {
          const r = await call("POST", `/mesh/${encodeURIComponent(grp)}/certificateRequest`, { raw: csr, headers: type ? { "content-type": type } : {} });
          expect(r.status, JSON.stringify(r.body).slice(0, 200)).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(typeof r.body?.error).toBe("string");
          expect(typeof r.body?.code).toBe("string");
        },
      ),
      { numRuns: 30, seed: SEED, interruptAfterTimeLimit: 8000 },
    );
    expect(await snapshot(), `group created: ${g.status}`).toBe(before);
  }, 30_000);

  it("text/plain activation at POST /activation refuses garbage with the protocol's UNKNOWN, changing nothing", async () => {
    const before = await snapshot();
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(str, fc.string({ maxLength: 400 }), fc.constantFrom("SHF00000000", "serial=&uuid=", "\r\n\r\n", "a".repeat(70_000))),
        fc.constantFrom("text/plain", "application/json", "application/x-www-form-urlencoded", ""),
        async (body, type) => {
          const c0 = await counts();
          const r = await call("POST", "/activation", { raw: body, headers: type ? { "content-type": type } : {} });
          expect(r.status, JSON.stringify(r.body).slice(0, 200)).toBeLessThan(500);
          // A body that reads as a serial is answered (STOLEN, a lease, or UNKNOWN: the activation protocol).
          if (r.status === 200) answered++;
          else if (r.status === 400) expect(r.body, "the activation protocol's refusal").toBe("UNKNOWN\n");
          // Bodies over MAX_BODY_BYTES: 413 in the school envelope (the school routes limit their own bodies).
          else if (r.status === 413) expect(r.body).toMatchObject({ success: "ERR", code: "payload_too_large" });
          else expect(r.body?.success).toBe("ERR");
          if (r.status >= 400) expect(await counts(), "a refused activation changed rows").toBe(c0);
        },
      ),
      { numRuns: 30, seed: SEED, interruptAfterTimeLimit: 8000 },
    );
    if (answered === 0) expect(await snapshot()).toBe(before);
  }, 30_000);

  const frame = fc.oneof(
    str,
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc
      .record({ type: fc.oneof(str, fc.constantFrom("hello", "status", "reply", "pong", "auth", "message")), id: value, data: value })
      .map((v) => JSON.stringify(v)),
    fc.constantFrom("{", "a".repeat(200_000), "\u0000"),
  );

  async function socket(path: string, token?: string): Promise<WebSocket> {
    const headers: Record<string, string> = { upgrade: "websocket" };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await (exports as unknown as { default: Fetcher }).default.fetch(new Request(`${BASE}${path}`, { headers }));
    expect(res.status, `${path} upgrade`).toBe(101);
    const ws = res.webSocket as WebSocket;
    ws.accept();
    return ws;
  }

  it("WebSocket frames to an agent's socket never break its registry entry or the service", async () => {
    const agent = await registerProbe({ platform: "linux", software_name: "stormflash", software_version: "1.3.3", supported_tests: ["status"] });
    const admin = await adminToken();
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 5 }), async (frames) => {
        const ws = await socket(`/agents/${agent.clientId}/connect`, agent.token);
        for (const f of frames) {
          try {
            ws.send(f);
          } catch {
            break; // closed by the server: refused, as it may
          }
        }
        await new Promise((r) => setTimeout(r, 20));
        ws.close(1000, "done");
        const r = await call("GET", "/minions", { token: admin });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        const one = await call("GET", `/minions/${agent.clientId}`, { token: admin });
        expect(one.status).toBeLessThan(500);
      }),
      { numRuns: 10, seed: SEED, interruptAfterTimeLimit: 10_000 },
    );
  }, 30_000);

  it("WebSocket frames from an unauthenticated mesh member never break the group", async () => {
    const admin = await adminToken();
    const group = `fz-${crypto.randomUUID().slice(0, 8)}`;
    await call("POST", "/api/v1/admin/mesh/groups", { token: admin, json: { name: group, open: true } });
    const id = "d".repeat(64);
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 5 }), async (frames) => {
        const res = await (exports as unknown as { default: Fetcher }).default.fetch(
          new Request(`${BASE}/mesh/${group}/members/${id}/connect`, { headers: { upgrade: "websocket" } }),
        );
        // An unknown member is refused at the upgrade (the envelope) or on the socket; never a 5xx.
        expect(res.status).toBeLessThan(500);
        if (res.status === 101) {
          const ws = res.webSocket as WebSocket;
          ws.accept();
          for (const f of frames) {
            try {
              ws.send(f);
            } catch {
              break;
            }
          }
          ws.close(1000, "done");
        } else {
          const body = (await res.json()) as { error?: string; code?: string };
          expect(typeof body.code).toBe("string");
        }
        const live = await call("GET", `/mesh/${group}/members`, { token: admin });
        expect(live.status, JSON.stringify(live.body)).toBe(200);
      }),
      { numRuns: 10, seed: SEED, interruptAfterTimeLimit: 10_000 },
    );
  }, 30_000);
});
