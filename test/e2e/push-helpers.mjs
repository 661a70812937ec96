// What every push suite does before its assertions: start `wrangler dev` pointed at fake providers, log the admin
// in, register probes with push tokens, create a one-shot campaign for a country and fire the cron.
import assert from "node:assert/strict";
import { client, SECRETS, startWorker, eventually as waitUntil } from "./harness.mjs";

/** Pushes cross a provider or two and a retry or two: a longer wait than the harness's default. */
export const eventually = (check, what, timeoutMs = 45_000) => waitUntil(check, what, timeoutMs);

/** A probe secret as long and random-looking as probe-cli's. */
export const PROBE_PASSWORD = "p".repeat(20) + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";

/**
 * The service under a push suite: `wrangler dev` with `vars`, and the `fakes` it talks to (each with a stop(), stopped
 * after the service, and at once if the service does not start). Returns { w, call, admin, register, campaign,
 * fireCron, stop }.
 */
export async function startPushService({ vars, fakes = [] }) {
  const stopFakes = async () => {
    for (const f of fakes) await f?.stop();
  };
  let w;
  try {
    w = await startWorker({ vars });
  } catch (e) {
    await stopFakes();
    throw e;
  }
  const call = client(w.url);
  const admin = (await call("POST", "/api/v1/login", { json: { username: "admin", password: SECRETS.ADMIN_PASSWORD } })).body.token;
  return {
    w,
    call,
    admin,
    /** A probe of `cc` on `platform` with push token `token`, registered with a password and logged in. */
    async register(cc, platform, token) {
      const r = await call("POST", "/api/v1/register", {
        json: {
          probe_cc: cc,
          probe_asn: "AS1",
          platform,
          software_name: "ooniprobe",
          software_version: "3.8.0",
          supported_tests: ["web_connectivity"],
          token,
          password: PROBE_PASSWORD,
        },
      });
      assert.equal(r.status, 200);
      const login = await call("POST", "/api/v1/login", { json: { username: r.body.client_id, password: PROBE_PASSWORD } });
      return { id: r.body.client_id, token: login.body.token, pushToken: token };
    },
    /** A one-shot web_connectivity campaign for the probes of `cc`; its id. */
    async campaign(cc, comment) {
      const r = await call("POST", "/api/v1/admin/job", {
        json: { schedule: "R1//P", comment, task: { test_name: "web_connectivity", arguments: {} }, target: { countries: [cc] } },
        token: admin,
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.id;
    },
    fireCron: async () => assert.equal((await fetch(`${w.url}/cdn-cgi/handler/scheduled?cron=*+*+*+*+*`)).status, 200),
    async stop() {
      await w.stop();
      await stopFakes();
    },
  };
}
