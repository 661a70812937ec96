import { and, asc, desc, gt, inArray } from "drizzle-orm";
import { events } from "../../schema/events";
import { decodeCursor, encodeCursor } from "../lib/cursor";
import { ApiError } from "../lib/errors";
import type { Db } from "../lib/db";
import { shardOf, SHARDS } from "./checksum";
import { type ListKey, mergePage } from "./listing";

/** Reads of the registry spread over its objects. Handlers stay thin; these are the only fan-outs. */

export function fleetStub(env: Env) {
  return env.MINION_FLEET.getByName("fleet");
}

export function shardStub(env: Env, shard: string) {
  return env.MINION_SHARD.getByName(shard);
}

export function shardFor(env: Env, id: string) {
  return shardStub(env, shardOf(id));
}

export function agentStub(env: Env, id: string) {
  return env.MINION_AGENT.getByName(id);
}

export { joinOrder } from "./listing";

export type ListingPage = { text: string; count: number; next: ListKey | null };

/**
 * One page of GET /minions, as JSON array text (statuses are not re-parsed): the page's keys from the 16 shards
 * (ids and join times only, at most `limit` from each), cut to `limit` in join order, then the statuses of those
 * `limit` minions alone. A minion that left between the two steps is skipped (it is no longer listed).
 */
export async function listPage(env: Env, after: ListKey | null, limit: number): Promise<ListingPage> {
  const parts = await Promise.all(SHARDS.map((s) => shardStub(env, s).keysAfter(after, limit)));
  const { page, more } = mergePage(parts, limit);
  const byShard = new Map<string, string[]>();
  for (const k of page) {
    const s = shardOf(k.id);
    const ids = byShard.get(s);
    if (ids) ids.push(k.id);
    else byShard.set(s, [k.id]);
  }
  const found = await Promise.all([...byShard].map(([s, ids]) => shardStub(env, s).statusesOf(ids)));
  const status = new Map<string, string>();
  for (const part of found) for (const r of part) status.set(r.id, r.status);
  const texts: string[] = [];
  for (const k of page) {
    const t = status.get(k.id);
    if (t !== undefined) texts.push(t);
  }
  return { text: `[${texts.join(",")}]`, count: texts.length, next: more && page.length ? page[page.length - 1] : null };
}

export const MINION_EVENT_TYPES = ["minion.joined", "minion.changed", "minion.left"] as const;

/** The change-feed cursor is the id of the last minion event seen (opaque on the wire); "0" means from the start. */
export function decodeSince(since: string): number {
  if (since === "0") return 0;
  const [id] = decodeCursor(since, 1);
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < 0) throw new ApiError("bad_request", "cursor is not one this service issued");
  return id;
}

export async function latestCursor(db: Db): Promise<string> {
  const row = await db
    .select({ id: events.id })
    .from(events)
    .where(inArray(events.type, [...MINION_EVENT_TYPES]))
    .orderBy(desc(events.id))
    .limit(1)
    .get();
  return encodeCursor([row?.id ?? 0]);
}

export type MinionChange = { id: string; type: "joined" | "changed" | "left"; at: string; checksum: string | null };

/** Minion events after the cursor, oldest first, from the shared event history. */
export async function changesSince(db: Db, afterId: number, limit: number) {
  const rows = await db
    .select()
    .from(events)
    .where(and(inArray(events.type, [...MINION_EVENT_TYPES]), gt(events.id, afterId)))
    .orderBy(asc(events.id))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  const changes: MinionChange[] = page.map((e) => {
    const data = JSON.parse(e.data) as { checksum?: string };
    const type = e.type.slice("minion.".length) as MinionChange["type"];
    return { id: e.subjectId, type, at: e.at, checksum: type === "left" ? null : (data.checksum ?? null) };
  });
  const latest = new Map<string, number>();
  changes.forEach((c, i) => {
    latest.set(c.id, i);
  });
  const ids = [...latest].sort((a, b) => a[1] - b[1]).map(([id]) => id);
  const last = page.length ? page[page.length - 1].id : afterId;
  return { changes, ids, next_cursor: encodeCursor([last]), more };
}
