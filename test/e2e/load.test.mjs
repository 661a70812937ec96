// The load test's short form (the full one is `node bench/load.mjs`): about 200 probe clients (150 seeded, the rest
// registering during the load) logging in, updating and checking in, 20 stormflash agents answering status polls and
// changing packages, and a campaign pushing to the 150 seeded probes through the fake gorush, all at once against
// wrangler's dev server; then every write checked. The dev server is started without its devtools inspector and file
// watcher (test/e2e/harness.mjs `devtools: false`): a source file saved during `npm test` would otherwise reload it,
// and wrangler's proxy answers a write in flight across a reload with a 503 of its own.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runLoad } from "../../bench/load.mjs";

describe("load: registrations, updates, check-ins and agent statuses with a campaign running (wrangler dev)", () => {
  it("answers no 5xx, loses no write, lists every agent's last status and pushes every target", async () => {
    const { figures: f, failures } = await runLoad({
      probes: 150,
      agents: 20,
      seconds: 10,
      concurrency: 16,
      monitorMs: 1000,
      healthSeconds: 2,
      devtools: false,
      log: () => {},
    });
    assert.deepEqual(failures, []);
    assert.equal(f.total_5xx, 0);
    assert.equal(f.registry.lost_writes, 0);
    assert.equal(f.registry.clients_listed, f.registry.clients_registered);
    assert.ok(f.registry.clients_updated > 0, "some clients were updated");
    assert.equal(f.minions.stale, 0);
    assert.ok(f.minions.status_changes > 0 && f.minions.status_replies > 0, "agents answered polls and changed");
    assert.deepEqual([f.campaign.targets, f.campaign.probes_pushed, f.campaign.lost, f.campaign.outside_target], [150, 150, 0, 0]);
    const checkins = f.rows.find((r) => r.name === "check-in");
    assert.ok(checkins.requests > 0 && checkins.ok === checkins.requests, "every check-in answered 200 with URLs");
    // 429s are counted apart, not failures; loopback is exempt from the per-address limits, so none are expected.
    assert.equal(f.total_429, 0);
  });
});
