import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminToken, call, registerProbe } from "../helpers";
import { createJob, fakeGateway, fireAndDispatch, installGateway, makeDue, settle, tasksOf, waitFor } from "./helpers";

// What one probe costs D1 per campaign run, measured on the real code path (hand-off, push, pingback, accept, done,
// timeout), by summing the D1 results' own meta. docs/scale.md builds its per-run figures from these numbers; the
// bounds below catch a change that makes every probe of every run cost more.

type Tally = { statements: number; roundTrips: number; rowsWritten: number; rowsRead: number };

function tallyD1(): { tally: Tally; stop: () => void } {
  const tally: Tally = { statements: 0, roundTrips: 0, rowsWritten: 0, rowsRead: 0 };
  const stmtProto = Object.getPrototypeOf(env.DB.prepare("SELECT 1")) as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const dbProto = Object.getPrototypeOf(env.DB) as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const add = (r: unknown) => {
    const m = (r as { meta?: { rows_written?: number; rows_read?: number } })?.meta;
    tally.rowsWritten += m?.rows_written ?? 0;
    tally.rowsRead += m?.rows_read ?? 0;
  };
  const originals: [Record<string, (...a: unknown[]) => Promise<unknown>>, string, (...a: unknown[]) => Promise<unknown>][] = [];
  for (const name of ["run", "all", "raw"]) {
    const o = stmtProto[name];
    originals.push([stmtProto, name, o]);
    stmtProto[name] = async function (this: unknown, ...a: unknown[]) {
      tally.statements++;
      tally.roundTrips++;
      const r = await o.apply(this, a);
      if (name === "run" || name === "all") add(r);
      return r;
    };
  }
  const batch = dbProto.batch;
  originals.push([dbProto, "batch", batch]);
  dbProto.batch = async function (this: unknown, stmts: unknown) {
    tally.roundTrips++;
    tally.statements += (stmts as unknown[]).length;
    const rs = (await batch.call(this, stmts)) as unknown[];
    for (const r of rs) add(r);
    return rs;
  };
  const stop = () => {
    for (const [p, n, o] of originals) p[n] = o;
  };
  return { tally, stop };
}

/** The database's size in bytes, as D1 reports it after a write (D1 refuses PRAGMA functions). */
const size = async () => {
  const r = await env.DB.prepare("UPDATE jobs SET id = id WHERE 0").run();
  return (r.meta as { size_after: number }).size_after;
};

let admin: string;
beforeAll(async () => {
  installGateway();
  admin = await adminToken();
});

describe("what one probe costs D1 per run", () => {
  it("a pushed task answered through its pingback (fetch, accept, done) stays within its round trips, rows and bytes", async () => {
    const N = 60;
    const probes = [];
    for (let i = 0; i < N; i++) probes.push(await registerProbe({ probe_cc: "XC", token: `cost-${i}` }));
    const gw = fakeGateway("cost-");
    const jobId = await createJob(admin, {
      task: { test_name: "web_connectivity", arguments: { urls: ["https://example.org/"] } },
      target: { countries: ["XC"] },
    });
    const bytesBefore = await size();
    const { tally, stop } = tallyD1();
    try {
      await fireAndDispatch(jobId);
      await settle(probes.map((p) => p.clientId));
      await waitFor(async () => gw.calls().length === N, "every push");
      for (const c of gw.calls()) {
        const link = new URL(c.body.notifications[0].data.pingback_url).pathname;
        const page = (await call("GET", link)).body;
        expect((await call("POST", new URL(page.accept_url).pathname)).status).toBe(200);
        expect((await call("POST", new URL(page.done_url).pathname, { json: { result: { measurement_id: "m" } } })).status).toBe(200);
      }
      for (const p of probes) await makeDue(p.clientId); // the task timeouts come and find nothing to expire
    } finally {
      stop();
    }
    const bytesAfter = await size();
    expect((await tasksOf(jobId)).every((t: any) => t.state === "done")).toBe(true);
    const per = {
      roundTrips: tally.roundTrips / N,
      statements: tally.statements / N,
      rowsWritten: tally.rowsWritten / N,
      rowsRead: tally.rowsRead / N,
      bytes: (bytesAfter - bytesBefore) / N,
    };
    console.log(`D1 per probe per run (N=${N}, page size ${env.FANOUT_PAGE_SIZE}): ${JSON.stringify(per)}`);
    expect(per.roundTrips).toBeLessThanOrEqual(14);
    expect(per.rowsWritten).toBeLessThanOrEqual(80);
    expect(per.bytes).toBeLessThanOrEqual(6000);
  }, 60_000);
});
