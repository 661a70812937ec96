import { describe, expect, it } from "vitest";
import { call } from "../helpers";

/**
 * Every per-address limit that test/auth/abuse.test.ts does not already cover (register and login are there): the
 * request over the limit from one CF-Connecting-IP is a 429 with Retry-After in the surface's own error form, and
 * another address is not affected. The requests are cheap refusals (unknown ids, bad bodies): the limit is counted
 * before anything else, so they count as any request would.
 */
let n = 0;
const address = () => `2001:db8:17::${(++n).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;

type Send = (ip: string) => Promise<{ status: number; body: any; headers: Headers }>;

/** Sends until a 429 (at most twice the limit and a bit: the binding's windows are fixed, a roll-over may let twice through). */
async function overTheLimit(send: Send, limit: number) {
  const ip = address();
  let passed = 0;
  for (let i = 0; i < 2 * limit + 5; i++) {
    const r = await send(ip);
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
    if (r.status === 429) return { passed, r };
    passed++;
  }
  throw new Error(`no 429 after ${2 * limit + 5} requests`);
}

const cases: { name: string; limit: number; send: Send; school?: boolean }[] = [
  {
    name: "PUT /api/v1/update/:client_id (UPDATE_RATE_LIMITER)",
    limit: 60,
    send: (ip) => call("PUT", `/api/v1/update/${crypto.randomUUID()}`, { json: { network_type: "wifi" }, headers: { "cf-connecting-ip": ip } }),
  },
  {
    name: "POST /api/v1/check-in (CHECKIN_RATE_LIMITER)",
    limit: 120,
    send: (ip) => call("POST", "/api/v1/check-in", { json: { charging: "yes" }, headers: { "cf-connecting-ip": ip } }),
  },
  {
    name: "POST /activation (ACTIVATION_RATE_LIMITER)",
    limit: 120,
    school: true,
    send: (ip) => call("POST", "/activation", { raw: "not a serial", headers: { "content-type": "text/plain", "cf-connecting-ip": ip } }),
  },
  {
    name: "POST /mesh/:group/certificateRequest (CERTIFICATE_RATE_LIMITER)",
    limit: 30,
    send: (ip) =>
      call("POST", "/mesh/no-such-group/certificateRequest", { raw: "not a csr", headers: { "content-type": "text/plain", "cf-connecting-ip": ip } }),
  },
  {
    name: "GET /agents/:id/connect (AGENT_CONNECT_RATE_LIMITER)",
    limit: 60,
    send: (ip) => call("GET", `/agents/${crypto.randomUUID()}/connect`, { headers: { upgrade: "websocket", "cf-connecting-ip": ip } }),
  },
];

describe("per-address rate limits on every limited route", () => {
  it.each(cases)(
    "$name: over the limit from one address is a 429 with Retry-After in the surface's envelope; another address is not limited",
    async (c) => {
      const { passed, r } = await overTheLimit(c.send, c.limit);
      expect(passed, "requests within the limit").toBeGreaterThanOrEqual(c.limit);
      expect(r.headers.get("retry-after")).toBe("60");
      expect(r.body).toMatchObject({ code: "rate_limited", error: expect.stringMatching(/too many requests/) });
      if (c.school) expect(r.body.success, "the school envelope").toBe("ERR");
      const other = await c.send(address());
      expect(other.status, "another address").not.toBe(429);
    },
    60_000,
  );
});
