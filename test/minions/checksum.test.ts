import { createHash } from "node:crypto";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { settingsFrom } from "../../functions/lib/settings";
import {
  BUCKET_COUNT,
  bucketDigest,
  bucketOf,
  canonicalStatus,
  EMPTY_MD5,
  fleetDigest,
  fleetDigestOf,
  ifNoneMatchHits,
  md5Hex,
  minionChecksum,
  parseStatus,
  shardOf,
  SHARDS,
} from "../../functions/minions/checksum";
import { parseAgentFrame, replyHeaders } from "../../functions/minions/frames";
import { parseProxyPath, tokenFromProtocols } from "../../functions/minions/routes";
import { seedStatus } from "./agents";

// Reference MD5 computed here independently of the code under test (WebCrypto's MD5 in workerd).
async function refMd5(s: string): Promise<string> {
  const d = await crypto.subtle.digest("MD5", new TextEncoder().encode(s));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const ids = Array.from({ length: 40 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
const sums = ids.map((id, i) => ({ id, checksum: md5Hex(`status-${i}`) }));

describe("per-minion checksum", () => {
  it("md5 of nothing is d41d8cd98f00b204e9800998ecf8427e, in workerd and in Node's algorithm", async () => {
    expect(md5Hex("")).toBe(EMPTY_MD5);
    expect(await refMd5("")).toBe(EMPTY_MD5);
    expect(createHash("md5").update("").digest("hex")).toBe(EMPTY_MD5);
  });

  it("is MD5 hex of JSON.stringify(status) without the top-level os key, in the agent's key order (seed fixture)", async () => {
    const status = seedStatus();
    const copy: Record<string, unknown> = { ...status };
    delete copy.os;
    const expected = await refMd5(JSON.stringify(copy));
    expect(minionChecksum(status)).toBe(expected);
    // A hand-written fragment pins the exact text hashed.
    expect(minionChecksum({ b: 1, os: { uptime: 3 }, a: [2] })).toBe(await refMd5('{"b":1,"a":[2]}'));
  });

  it("key order matters (the agent's order is kept, not sorted)", () => {
    expect(minionChecksum({ a: 1, b: 2 })).not.toBe(minionChecksum({ b: 2, a: 1 }));
  });

  it("ignores only the top-level os: an os-only change keeps it, a nested os key or a package change does not", () => {
    const s = seedStatus();
    const osOnly = seedStatus({ os: { ...s.os, uptime: 9999, loadavg: [1, 2, 3] } });
    expect(minionChecksum(osOnly)).toBe(minionChecksum(s));
    const pkg = seedStatus();
    pkg.packages[1].version = "1.4.3";
    expect(minionChecksum(pkg)).not.toBe(minionChecksum(s));
    expect(minionChecksum({ a: { os: 1 } })).not.toBe(minionChecksum({ a: { os: 2 } }));
  });

  it("canonical status: a missing id is appended last, a null id keeps its place, a present id is untouched", () => {
    expect(Object.keys(canonicalStatus({ x: 1, y: 2 }, "m1"))).toEqual(["x", "y", "id"]);
    expect(canonicalStatus({ id: null, x: 1 }, "m1")).toEqual({ id: "m1", x: 1 });
    expect(Object.keys(canonicalStatus({ id: null, x: 1 }, "m1"))).toEqual(["id", "x"]);
    const s = { id: "agent-own-id", x: 1 };
    expect(canonicalStatus(s, "m1")).toBe(s);
  });

  it("parseStatus accepts only JSON objects", () => {
    expect(parseStatus('{"a":1}')).toEqual({ a: 1 });
    for (const bad of ["[1]", "null", "3", '"x"', "{nope", ""]) expect(parseStatus(bad)).toBeNull();
  });
});

describe("bucket and fleet digests", () => {
  it("bucket = first two hex characters of MD5(id); 16 shards own 16 buckets each", async () => {
    for (const id of ids.slice(0, 5)) expect(bucketOf(id)).toBe((await refMd5(id)).slice(0, 2));
    expect(SHARDS).toHaveLength(16);
    expect(BUCKET_COUNT).toBe(256);
    expect(shardOf(ids[0])).toBe(bucketOf(ids[0])[0]);
  });

  it("bucket digest = MD5 of `<id>:<checksum>\\n` over members sorted by id; order of input does not matter", async () => {
    const three = sums.slice(0, 3);
    const text = three.map((m) => `${m.id}:${m.checksum}\n`).join("");
    expect(bucketDigest(three)).toBe(await refMd5(text));
    expect(bucketDigest([three[2], three[0], three[1]])).toBe(bucketDigest(three));
  });

  it("fleet = MD5 of `<bucket>:<digest>\\n` over non-empty buckets in order; empty fleet is MD5 of nothing", async () => {
    expect(fleetDigest([])).toBe(EMPTY_MD5);
    expect(fleetDigestOf([])).toBe("d41d8cd98f00b204e9800998ecf8427e");
    const bs = [
      { bucket: "0a", digest: md5Hex("x") },
      { bucket: "ff", digest: md5Hex("y") },
    ];
    expect(fleetDigest(bs)).toBe(await refMd5(`0a:${md5Hex("x")}\nff:${md5Hex("y")}\n`));
    expect(fleetDigest([bs[1], bs[0]])).toBe(fleetDigest(bs));
  });

  it("the fleet checksum is order independent and changes on join, leave and any checksum change", () => {
    const base = fleetDigestOf(sums);
    expect(fleetDigestOf([...sums].reverse())).toBe(base);
    expect(fleetDigestOf([...sums].sort(() => Math.random() - 0.5))).toBe(base);
    expect(fleetDigestOf(sums.slice(1))).not.toBe(base);
    expect(fleetDigestOf([...sums, { id: "new", checksum: md5Hex("n") }])).not.toBe(base);
    const changed = sums.map((m, i) => (i === 7 ? { ...m, checksum: md5Hex("other") } : m));
    expect(fleetDigestOf(changed)).not.toBe(base);
  });

  it("combining per-bucket digests kept separately equals the digest computed from all minions", () => {
    const byBucket = new Map<string, typeof sums>();
    for (const m of sums) byBucket.set(bucketOf(m.id), [...(byBucket.get(bucketOf(m.id)) ?? []), m]);
    const combined = fleetDigest([...byBucket].map(([bucket, ms]) => ({ bucket, digest: bucketDigest(ms) })));
    expect(combined).toBe(fleetDigestOf(sums));
  });
});

describe("wire helpers", () => {
  it("If-None-Match: exact strong tag, weak form, lists and * match; others do not", () => {
    const h = md5Hex("a");
    expect(ifNoneMatchHits(`"${h}"`, h)).toBe(true);
    expect(ifNoneMatchHits(`W/"${h}"`, h)).toBe(true);
    expect(ifNoneMatchHits(`"x", "${h}"`, h)).toBe(true);
    expect(ifNoneMatchHits("*", h)).toBe(true);
    expect(ifNoneMatchHits(h, h)).toBe(false);
    expect(ifNoneMatchHits(undefined, h)).toBe(false);
  });

  it("the token travels in the subprotocols 'bearer, <token>'", () => {
    expect(tokenFromProtocols("bearer, a.b.c")).toBe("a.b.c");
    expect(tokenFromProtocols("Bearer,a-b_c.d")).toBe("a-b_c.d");
    expect(tokenFromProtocols("chat")).toBeNull();
    expect(tokenFromProtocols("bearer")).toBeNull();
    expect(tokenFromProtocols(undefined)).toBeNull();
  });

  it("parses /proxy/<id>@<port>/<path> strictly", () => {
    const id = ids[3];
    expect(parseProxyPath(`/proxy/${id}@5000/status`, "?a=1")).toEqual({ id, port: 5000, url: "/status?a=1" });
    expect(parseProxyPath(`/proxy/${id.toUpperCase()}%405000/x/y`, "")).toEqual({ id, port: 5000, url: "/x/y" });
    expect(parseProxyPath(`/proxy/${id}@5000`, "")).toEqual({ id, port: 5000, url: "/" });
    for (const bad of [`/proxy/${id}@0/x`, `/proxy/${id}@70000/x`, `/proxy/${id}/x`, `/proxy/nope@5000/x`, `/proxy/${id}@50a0/x`, "/proxy/"]) {
      expect(parseProxyPath(bad, "")).toBeNull();
    }
  });

  it("agent frames are validated", () => {
    expect(parseAgentFrame('{"type":"hello","capability":[5000]}')).toEqual({ ok: true, frame: { type: "hello", capability: [5000] } });
    expect(parseAgentFrame('{"type":"hello","capability":[0]}').ok).toBe(false);
    expect(parseAgentFrame('{"type":"hello"}').ok).toBe(false);
    expect(parseAgentFrame('{"type":"dance"}').ok).toBe(false);
    expect(parseAgentFrame("nope").ok).toBe(false);
  });

  it("relayed reply headers drop hop-by-hop ones and unsafe values", () => {
    const h = replyHeaders({ "content-type": "application/json", connection: "close", "content-length": "3", "x-a": ["1", "2"], "x-bad": "a\r\nb" });
    expect(h.get("content-type")).toBe("application/json");
    expect(h.get("connection")).toBeNull();
    expect(h.get("content-length")).toBeNull();
    expect(h.get("x-a")).toBe("1, 2");
    expect(h.get("x-bad")).toBeNull();
  });

  it("relayed reply headers drop hop-by-hop, Proxy-*, cookie and redirect headers, and add nosniff and a sandboxing CSP", () => {
    const h = replyHeaders({
      Connection: "x-secret",
      "Keep-Alive": "timeout=5",
      "Transfer-Encoding": "chunked",
      Upgrade: "h2c",
      TE: "trailers",
      Trailer: "x-t",
      "Proxy-Authenticate": "Basic",
      "Proxy-Connection": "keep-alive",
      "Set-Cookie": ["__Host-eo_session=stolen; Path=/", "b=2"],
      Location: "https://evil.example/",
      Refresh: "0; url=https://evil.example/",
      "Content-Security-Policy": "default-src *",
      "X-Content-Type-Options": "none",
      "x-agent": "stormflash",
    });
    for (const k of [
      "connection",
      "keep-alive",
      "transfer-encoding",
      "upgrade",
      "te",
      "trailer",
      "proxy-authenticate",
      "proxy-connection",
      "set-cookie",
      "location",
      "refresh",
    ])
      expect(h.get(k), k).toBeNull();
    expect(h.get("x-content-type-options")).toBe("nosniff");
    expect(h.get("content-security-policy")).toBe("sandbox; default-src 'none'");
    expect(h.get("x-agent")).toBe("stormflash");
  });

  it("a relayed reply keeps a content type only from the safe list; HTML, SVG, scripts and junk become application/octet-stream", () => {
    const type = (t?: string) => replyHeaders(t === undefined ? {} : { "Content-Type": t }).get("content-type");
    expect(type("application/json")).toBe("application/json");
    expect(type("Application/JSON; charset=UTF-8")).toBe("application/json; charset=utf-8");
    expect(type("text/plain")).toBe("text/plain");
    for (const bad of ["text/html", "image/svg+xml", "application/javascript", "text/xml", "application/xhtml+xml", "", "json", "text/html, application/json"])
      expect(type(bad), bad).toBe("application/octet-stream");
    expect(type()).toBe("application/octet-stream");
    expect(replyHeaders({ "content-type": ["text/html", "application/json"] }).get("content-type")).toBe("application/octet-stream");
  });

  it("settings: monitor interval, beacon interval/retry/validity and proxy timeout are configurable, with defaults", () => {
    const s = settingsFrom({ ...env, MONITOR_INTERVAL_MS: "", BEACON_INTERVAL_S: "", BEACON_RETRY: "", BEACON_VALIDITY_S: "", PROXY_TIMEOUT_MS: "" } as Env);
    expect(s.minions).toMatchObject({
      monitorIntervalMs: 15000,
      beaconIntervalS: 10,
      beaconRetry: 3,
      beaconValidityS: 45,
      proxyTimeoutMs: 20000,
      benchSeed: false,
    });
    const t = settingsFrom({
      ...env,
      MONITOR_INTERVAL_MS: "500",
      BEACON_VALIDITY_S: "5",
      BEACON_RETRY: "2",
      BEACON_INTERVAL_S: "1",
      PROXY_TIMEOUT_MS: "99",
    } as Env);
    expect(t.minions).toMatchObject({ monitorIntervalMs: 500, beaconIntervalS: 1, beaconRetry: 2, beaconValidityS: 5, proxyTimeoutMs: 99 });
    expect(() => settingsFrom({ ...env, BEACON_VALIDITY_S: "-1" } as Env)).toThrow(/BEACON_VALIDITY_S/);
  });
});
