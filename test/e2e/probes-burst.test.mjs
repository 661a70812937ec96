// Bursts of probe writes over real HTTP against `wrangler dev`: concurrent requests share D1 round trips
// (functions/lib/group-commit.ts) and each still gets exactly its own outcome. Real request contexts are needed
// here: one request's flush settles the others' promises, which only the real runtime does.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { client, probeBody as probe, SECRETS, sharedBy, startWorker } from "./harness.mjs";

describe("bursts of probe writes (wrangler dev)", () => {
  let w;
  let call;
  let admin;
  before(async () => {
    w = await startWorker();
    call = client(w.url);
    admin = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
  });
  after(async () => {
    await w?.stop();
  });

  const detail = (id) => call("GET", `/api/v1/admin/clients/${id}`, { token: admin });

  it("60 probes registering at once each get their own client_id, stored with its history and event, sharing round trips", async () => {
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => call("POST", "/api/v1/register", { json: probe({ probe_asn: `AS${100 + i}` }) })));
    assert.deepEqual(
      replies.map((r) => r.status),
      Array(60).fill(200),
    );
    const ids = replies.map((r) => r.body.client_id);
    assert.equal(new Set(ids).size, 60);
    // Every write says how many requests its round trip carried; in a burst some carried more than one.
    const shared = replies.map((r) => sharedBy(r.headers));
    assert.ok(
      shared.every((n) => n >= 1),
      `every register reports its commit: ${shared}`,
    );
    assert.ok(
      shared.some((n) => n > 1),
      `a burst of 60 shares round trips: ${shared}`,
    );
    for (const [i, id] of ids.entries()) {
      const d = await detail(id);
      assert.equal(d.status, 200);
      assert.equal(d.body.probe_asn, `AS${100 + i}`);
      assert.deepEqual(
        d.body.updates.map((u) => u.update_type),
        ["register"],
      );
    }
    const ev = await call("GET", "/api/v1/admin/events?type=probe.registered&limit=200", { token: admin });
    const registered = new Set(ev.body.events.map((e) => e.probe_id));
    assert.ok(
      ids.every((id) => registered.has(id)),
      "one probe.registered event per probe",
    );
  });

  it("a burst of updates, with unknown and password-protected clients mixed in, answers each correctly and changes only the right probes", async () => {
    const open = (await Promise.all(Array.from({ length: 20 }, () => call("POST", "/api/v1/register", { json: probe() })))).map((r) => r.body.client_id);
    const locked = (await call("POST", "/api/v1/register", { json: probe({ password: "p".repeat(64) }) })).body.client_id;
    const unknown = "00000000-0000-4000-8000-000000000000";
    const replies = await Promise.all([
      ...open.map((id, i) => call("PUT", `/api/v1/update/${id}`, { json: { software_version: `9.${i}.0` } })),
      call("PUT", `/api/v1/update/${unknown}`, { json: { software_version: "1.0.0" } }),
      call("PUT", `/api/v1/update/${locked}`, { json: { software_version: "6.6.6" } }),
    ]);
    assert.deepEqual(
      replies.map((r) => r.status),
      [...Array(20).fill(200), 404, 401],
    );
    for (const [i, id] of open.entries()) {
      const d = await detail(id);
      assert.equal(d.body.software_version, `9.${i}.0`);
      assert.deepEqual(
        d.body.updates.map((u) => u.update_type),
        ["update", "register"],
      );
    }
    const l = await detail(locked);
    assert.equal(l.body.software_version, "3.8.0");
    assert.deepEqual(
      l.body.updates.map((u) => u.update_type),
      ["register"],
    );
  });

  it("clients hanging up mid-burst stall no one: every acknowledged registration is stored and the next burst is served", async () => {
    const answered = [];
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const ac = new AbortController();
        // Every third client disconnects after 0–4 ms, while its write may be queued, leading or in flight.
        if (i % 3 === 0) setTimeout(() => ac.abort(), i % 5);
        try {
          const res = await fetch(`${w.url}/api/v1/register`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(probe({ probe_asn: `AS${5000 + i}` })),
            signal: ac.signal,
          });
          if (res.status === 200) answered.push((await res.json()).client_id);
          else assert.fail(`register answered ${res.status}`);
        } catch (e) {
          if (e.name !== "AbortError") throw e;
        }
      }),
    );
    assert.ok(answered.length >= 40, `the 40 clients that stayed were answered (${answered.length})`);
    for (const id of answered) assert.equal((await detail(id)).status, 200, `acknowledged ${id} is stored`);
    const t0 = Date.now();
    const next = await Promise.all(Array.from({ length: 20 }, () => call("POST", "/api/v1/register", { json: probe() })));
    assert.deepEqual(
      next.map((r) => r.status),
      Array(20).fill(200),
    );
    assert.ok(Date.now() - t0 < 10_000, "the next burst is not held up by the abandoned requests");
  });
});
