import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, registerProbe } from "../helpers";
import { D1_MAX_PARAMS, watchD1Params } from "../lib/d1-params";
import { createJob, fakeGateway, fireAndDispatch, installGateway, runsOf, settle, tasksOf, TASK_JOB } from "./helpers";

// D1 in production refuses a statement with more than 100 bound parameters; local D1 does not. Every statement
// below is counted (test/lib/d1-params.ts) and fails here as it would there.

/** 500 distinct country codes (AA, AB, ...) and 500 ASNs. */
const COUNTRIES = Array.from({ length: 500 }, (_, i) => String.fromCharCode(65 + Math.floor(i / 26), 65 + (i % 26)));
const ASNS = Array.from({ length: 500 }, (_, i) => `AS${64000 + i}`);

let admin: string;
let watch: ReturnType<typeof watchD1Params> | null = null;
beforeAll(async () => {
  installGateway();
  admin = await adminToken();
});
afterEach(() => {
  watch?.stop();
  watch = null;
});

const expectUnderLimit = (w: ReturnType<typeof watchD1Params>) => {
  expect(w.statements.length).toBeGreaterThan(0);
  expect(w.over()).toEqual([]);
  expect(w.max()).toBeLessThanOrEqual(D1_MAX_PARAMS);
};

describe("campaign targets of 500 countries and 500 ASNs", () => {
  // Inside the lists: BA (index 26) with AS64010, CZ (index 77) with AS64499. Outside: the ASN (AS1) or the country (ZZ).
  const inside: string[] = [];
  const outside: string[] = [];
  beforeAll(async () => {
    inside.push((await registerProbe({ probe_cc: "BA", probe_asn: "AS64010", token: "tl-in-1" })).clientId);
    inside.push((await registerProbe({ probe_cc: "CZ", probe_asn: "AS64499", platform: "ios", token: "tl-in-2" })).clientId);
    outside.push((await registerProbe({ probe_cc: "BA", probe_asn: "AS1", token: "tl-out-1" })).clientId);
    outside.push((await registerProbe({ probe_cc: "ZZ", probe_asn: "AS64010", token: "tl-out-2" })).clientId);
  });
  const target = { countries: COUNTRIES, asns: ASNS };

  it("a dry run counts exactly the probes in both lists, every statement under 100 parameters", async () => {
    watch = watchD1Params();
    const r = await call("POST", "/api/v1/admin/job/dry-run", { json: { ...TASK_JOB, target }, token: admin });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ targets: 2, with_push_token: 2 });
    expect(r.body.by_country).toEqual([
      { key: "BA", count: 1 },
      { key: "CZ", count: 1 },
    ]);
    expectUnderLimit(watch);
  });

  it("a campaign is created with them, and its run hands out and pushes exactly the probes inside, every statement under 100 parameters", async () => {
    const gw = fakeGateway("tl-");
    watch = watchD1Params();
    const jobId = await createJob(admin, { target });
    const job = await call("GET", `/api/v1/admin/job/${jobId}`, { token: admin });
    expect(job.body.target.countries).toHaveLength(500);
    expect(job.body.target.asns).toHaveLength(500);
    await fireAndDispatch(jobId);
    await settle([...inside, ...outside]);
    expectUnderLimit(watch);
    // The page query (probes matching the target after the cursor) was among the statements counted.
    expect(watch.statements.some((s) => /from "probes"/i.test(s.sql) && /json_each/.test(s.sql))).toBe(true);
    expect((await runsOf(jobId))[0]).toMatchObject({ state: "dispatched", targets: 2 });
    expect((await tasksOf(jobId)).map((t: any) => t.probe_id).sort()).toEqual([...inside].sort());
    expect(
      gw
        .calls()
        .map((c) => c.token)
        .sort(),
    ).toEqual(["tl-in-1", "tl-in-2"]);
  });

  it("refuses 501 values in one list with a 400 naming the list, creating nothing", async () => {
    const before = (await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs").first<{ n: number }>())!.n;
    const r = await call("POST", "/api/v1/admin/job", { json: { ...TASK_JOB, target: { asns: [...ASNS, "AS1"] } }, token: admin });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("validation_failed");
    expect(r.body.error).toMatch(/target\.asns/);
    const dry = await call("POST", "/api/v1/admin/job/dry-run", { json: { ...TASK_JOB, target: { countries: [...COUNTRIES, "ZZ"] } }, token: admin });
    expect(dry.status).toBe(400);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM jobs").first<{ n: number }>())!.n).toBe(before);
  });
});
