import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { benchItem } from "../../functions/minions/bench";
import { SHARDS, shardOf } from "../../functions/minions/checksum";
import { decodeListCursor, encodeListCursor, joinOrder, mergePage } from "../../functions/minions/listing";
import { adminToken, call } from "../helpers";

const FLEET = 1200;
const PAGE = 500; // MINIONS_PAGE_SIZE's default (the vitest pool sets no other)

let token: string;
const get = (path: string) => call<any>("GET", path, { token });

/** Seeds minions through the shards' bulk path (the benchmark's seeding path): one upsertMany per shard. */
async function seed(from: number, to: number, at: string) {
  const byShard = new Map<string, ReturnType<typeof benchItem>[]>();
  for (let i = from; i < to; i++) {
    const it = benchItem(i, 0);
    const list = byShard.get(shardOf(it.id)) ?? [];
    list.push(it);
    byShard.set(shardOf(it.id), list);
  }
  await Promise.all([...byShard].map(([s, items]) => env.MINION_SHARD.getByName(s).upsertMany(items, at)));
}

/** Every present minion in join order, read from the shards themselves (not by the code under test's merge). */
async function everyone(): Promise<string[]> {
  const parts = await Promise.all(SHARDS.map((s) => env.MINION_SHARD.getByName(s).index()));
  return parts
    .flat()
    .sort((a, b) => (a.joinedAt !== b.joinedAt ? (a.joinedAt < b.joinedAt ? -1 : 1) : a.id < b.id ? -1 : 1))
    .map((m) => m.id);
}

/** Follows rel="next" from `first` to the end; every page's body and ids. */
async function walk(first: string) {
  const pages: { ids: string[]; bytes: number; link: string | null; next: string | null }[] = [];
  let path: string | null = first;
  while (path) {
    const r = await get(path);
    expect(r.status, path).toBe(200);
    const body = r.body as { id: string }[];
    pages.push({ ids: body.map((s) => s.id), bytes: JSON.stringify(body).length, link: r.headers.get("link"), next: r.headers.get("x-minions-next-cursor") });
    const link = r.headers.get("link");
    path = link ? new URL(/^<([^>]+)>; rel="next"$/.exec(link)![1]).pathname + new URL(/^<([^>]+)>/.exec(link)![1]).search : null;
    expect(pages.length, "pages").toBeLessThan(50);
  }
  return pages;
}

describe("paged GET /minions", () => {
  beforeAll(async () => {
    token = await adminToken();
    // Two join times, so the order is by join time first and by id within each.
    await seed(0, 600, "2026-03-01T10:00:00.000Z");
    await seed(600, FLEET, "2026-03-01T10:05:00.000Z");
  });

  it("1,200 minions list across pages of MINIONS_PAGE_SIZE in join order, with no gap and no repeat", async () => {
    const expected = await everyone();
    expect(expected.length).toBeGreaterThanOrEqual(FLEET);
    const pages = await walk("/minions");
    expect(pages.map((p) => p.ids.length)).toEqual(
      Array.from({ length: Math.ceil(expected.length / PAGE) }, (_, i) => Math.min(PAGE, expected.length - i * PAGE)),
    );
    const listed = pages.flatMap((p) => p.ids);
    expect(new Set(listed).size, "no repeats").toBe(listed.length);
    expect(listed, "no gaps, join order").toEqual(expected);
    // The last page names no next one; the others name it both ways.
    expect(pages.at(-1)?.link).toBeNull();
    for (const p of pages.slice(0, -1)) expect(p.link).toBe(`<https://probes.example.org/minions?cursor=${p.next}>; rel="next"`);
  });

  it("a smaller limit pages the same order; each page holds only its own statuses (memory bounded by the page)", async () => {
    const expected = await everyone();
    const pages = await walk("/minions?limit=250");
    const listed = pages.flatMap((p) => p.ids);
    expect(listed).toEqual(expected);
    const largest = Math.max(...pages.map((p) => p.bytes));
    const all = pages.reduce((n, p) => n + p.bytes, 0);
    for (const p of pages) expect(p.ids.length).toBeLessThanOrEqual(250);
    // A full page is about a fifth of the fleet's statuses: never the fleet in one string.
    expect(largest).toBeLessThan(all / 4);
    // The limit travels in the next link; a limit above MINIONS_PAGE_SIZE is cut to it.
    expect(pages[0].link).toContain("limit=250");
    expect((await get("/minions?limit=5000")).body).toHaveLength(PAGE);
  });

  it("HEAD /minions is unchanged: the fleet checksum and count, no body, no paging headers", async () => {
    const h = await call("HEAD", "/minions", { token });
    const g = await get("/minions");
    expect(h.status).toBe(200);
    expect(h.body).toBeNull();
    expect(h.headers.get("content-md5")).toBe(g.headers.get("content-md5"));
    expect(Number(h.headers.get("x-minion-count"))).toBe((await everyone()).length);
    expect(h.headers.get("link")).toBeNull();
    // If-None-Match on a page: the fleet is unchanged, so is the page.
    expect(
      (await call("GET", `/minions?cursor=${g.headers.get("x-minions-next-cursor")}`, { token, headers: { "if-none-match": g.headers.get("etag")! } })).status,
    ).toBe(304);
  });

  it("a cursor this service did not issue, a cursor with ?since=, or a feed limit over 1000 is a 400", async () => {
    for (const q of ["cursor=nope", `cursor=${btoa('["x","y"]')}`, "cursor=abc&since=0", "since=0&limit=2000", "limit=0"]) {
      const r = await get(`/minions?${q}`);
      expect(r.status, q).toBe(400);
      expect(typeof r.body.code).toBe("string");
    }
  });
});

describe("the listing's merge", () => {
  it("takes the first `limit` keys of the shards' answers in join order and says whether more are left", () => {
    const k = (joinedAt: string, id: string) => ({ joinedAt, id });
    const a = [k("2026-01-01T00:00:01Z", "b"), k("2026-01-01T00:00:03Z", "a")];
    const b = [k("2026-01-01T00:00:01Z", "a"), k("2026-01-01T00:00:02Z", "z")];
    expect(mergePage([a, b], 3)).toEqual({ page: [b[0], a[0], b[1]], more: true });
    expect(mergePage([a, b], 4)).toEqual({ page: [b[0], a[0], b[1], a[1]], more: false });
    expect(mergePage([[], []], 10)).toEqual({ page: [], more: false });
    expect([a[1], b[0]].sort(joinOrder)).toEqual([b[0], a[1]]);
  });

  it("cursors round-trip and refuse anything else", () => {
    const key = { joinedAt: "2026-03-01T10:00:00.000Z", id: "30a2a131-f812-4666-bb69-c443f7e3a901" };
    expect(decodeListCursor(encodeListCursor(key))).toEqual(key);
    expect(() => decodeListCursor(encodeListCursor({ joinedAt: "not a time", id: key.id }))).toThrow();
    expect(() => decodeListCursor(encodeListCursor({ joinedAt: key.joinedAt, id: "../x" }))).toThrow();
  });
});
