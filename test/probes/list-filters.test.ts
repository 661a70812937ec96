import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, registerProbe } from "../helpers";
import { D1_MAX_PARAMS, watchD1Params } from "../lib/d1-params";

// Probe listing filters of up to 500 values per list: one bound parameter per list (functions/lib/sql-lists.ts),
// counted here as production D1 counts them (at most 100 per statement).

const COUNTRIES = Array.from({ length: 500 }, (_, i) => String.fromCharCode(65 + Math.floor(i / 26), 65 + (i % 26)));
const ASNS = Array.from({ length: 500 }, (_, i) => `AS${70000 + i}`);
const VERSIONS = Array.from({ length: 500 }, (_, i) => `9.${i}.0`);

describe("GET /api/v1/admin/clients with 500-value filters", () => {
  let admin: string;
  const ids: Record<string, string> = {};
  let watch: ReturnType<typeof watchD1Params> | null = null;
  beforeAll(async () => {
    admin = await adminToken();
    ids.in = (await registerProbe({ probe_cc: "AC", probe_asn: "AS70007", software_version: "9.3.0" })).clientId;
    ids.otherAsn = (await registerProbe({ probe_cc: "AC", probe_asn: "AS1", software_version: "9.3.0" })).clientId;
    ids.otherCountry = (await registerProbe({ probe_cc: "ZZ", probe_asn: "AS70007", software_version: "9.3.0" })).clientId;
  });
  afterEach(() => {
    watch?.stop();
    watch = null;
  });

  it("filters by 500 countries, 500 ASNs and 500 versions at once, each statement under 100 parameters", async () => {
    watch = watchD1Params();
    const q = `?country=${COUNTRIES.join(",")}&country_code=${COUNTRIES.join(",")}&asn=${ASNS.join(",")}&software_version=${VERSIONS.join(",")}`;
    const r = await call("GET", `/api/v1/admin/clients${q}`, { token: admin });
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(200);
    expect(r.body.results.map((c: any) => c.client_id)).toEqual([ids.in]);
    expect(r.body.metadata).toMatchObject({ total_client_count: 1, client_countries: [{ probe_cc: "AC", count: 1 }] });
    expect(watch.over()).toEqual([]);
    expect(watch.max()).toBeLessThanOrEqual(D1_MAX_PARAMS);
    expect(watch.statements.filter((s) => /json_each/.test(s.sql)).length).toBeGreaterThanOrEqual(3);
  });

  it("refuses 501 values in one list with a 400", async () => {
    const r = await call("GET", `/api/v1/admin/clients?asn=${[...ASNS, "AS1"].join(",")}`, { token: admin });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("validation_failed");
    expect(r.body.error).toMatch(/asn.*at most 500/);
  });
});
