import { describe, expect, it } from "vitest";
import { adminToken, call, createOperator, registerProbe } from "./helpers";
import { watchD1Params } from "./lib/d1-params";

describe("GET /api/v1/admin/events", () => {
  it("tells a probe's story: registered, then updated, filtered by probe and type", async () => {
    const p = await registerProbe();
    await call("PUT", `/api/v1/update/${p.clientId}`, { token: p.token, json: { network_type: "mobile" } });
    const t = await adminToken();
    const r = await call("GET", `/api/v1/admin/events?probe_id=${p.clientId}&order=asc`, { token: t });
    expect(r.status).toBe(200);
    expect(r.body.events.map((e: any) => e.type)).toEqual(["probe.registered", "probe.updated"]);
    expect(r.body.events[1].data.changed).toEqual(["network_type"]);
    const byType = await call("GET", `/api/v1/admin/events?type=probe.*&probe_id=${p.clientId}`, { token: t });
    expect(byType.body.events.map((e: any) => e.type)).toEqual(["probe.updated", "probe.registered"]);
  });

  it("pages newest first with a cursor and never repeats an event", async () => {
    for (let i = 0; i < 5; i++) await registerProbe({ password: undefined });
    const t = await adminToken();
    const seen: number[] = [];
    let cursor = "";
    for (let i = 0; i < 20; i++) {
      const r = await call("GET", `/api/v1/admin/events?type=probe.registered&limit=2${cursor}`, { token: t });
      seen.push(...r.body.events.map((e: any) => e.id));
      if (!r.body.next_cursor) break;
      cursor = `&cursor=${r.body.next_cursor}`;
    }
    expect(seen.length).toBeGreaterThanOrEqual(5);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  });

  it("viewers read it; probes and anonymous callers cannot; bad filters are 400", async () => {
    const v = await createOperator("viewer");
    const p = await registerProbe();
    expect((await call("GET", "/api/v1/admin/events", { token: v.token })).status).toBe(200);
    expect((await call("GET", "/api/v1/admin/events", { token: p.token })).status).toBe(403);
    expect((await call("GET", "/api/v1/admin/events")).status).toBe(401);
    for (const q of ["?since=nope", "?probe_id=123", "?limit=9999", "?type=DROP TABLE", "?order=sideways"]) {
      expect((await call("GET", `/api/v1/admin/events${q}`, { token: v.token })).status, q).toBe(400);
    }
  });

  it("a type prefix of any allowed length answers correctly (a range, never a LIKE past D1's 50-byte cap), and _ is not a wildcard", async () => {
    const p = await registerProbe();
    const t = await adminToken();
    const long = `probe.${"x".repeat(54)}*`; // 60 bytes before the *
    const w = watchD1Params();
    try {
      const r = await call("GET", `/api/v1/admin/events?type=${long}&probe_id=${p.clientId}`, { token: t });
      expect(r.status).toBe(200);
      expect(r.body.events).toEqual([]);
      expect(w.statements.some((s) => /from "events"/i.test(s.sql))).toBe(true);
      expect(w.statements.filter((s) => /\blike\b/i.test(s.sql))).toEqual([]);
    } finally {
      w.stop();
    }
    const under = await call("GET", `/api/v1/admin/events?type=probe_*&probe_id=${p.clientId}`, { token: t });
    expect(under.status).toBe(200);
    expect(under.body.events).toEqual([]);
    const all = await call("GET", `/api/v1/admin/events?type=probe.reg*&probe_id=${p.clientId}`, { token: t });
    expect(all.body.events.map((e: any) => e.type)).toEqual(["probe.registered"]);
  });
});
