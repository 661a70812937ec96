import { decodeCursor, encodeCursor } from "../lib/cursor";
import { ApiError } from "../lib/errors";
import { isUuid } from "../lib/ids";

/**
 * GET /minions in pages (docs/minions.md "Listing"). The order is join order: earliest joined first, ties by id
 * (the console lists in it too). A page is built in two steps so that only its own statuses are ever read: each
 * shard answers the next keys after the cursor (id and join time, no status), the keys are merged and cut to the
 * page, and only then are the page's statuses fetched from their shards. A page is keyed by the last (joined_at,
 * id) it holds, so paging a fleet that does not change meets every minion exactly once; a minion that leaves and
 * joins again moves to the end (it joined again).
 */
export type ListKey = { joinedAt: string; id: string };

/** Join order: earliest joined first, ties by id. */
export function joinOrder(a: ListKey, b: ListKey): number {
  if (a.joinedAt !== b.joinedAt) return a.joinedAt < b.joinedAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The page from each shard's next keys (each already in join order, each at most `limit` long): the first `limit`
 * of the merge, and whether any key is left after them.
 */
export function mergePage<K extends ListKey>(parts: K[][], limit: number): { page: K[]; more: boolean } {
  const all = parts.flat().sort(joinOrder);
  return { page: all.slice(0, limit), more: all.length > limit };
}

export const encodeListCursor = (k: ListKey) => encodeCursor([k.joinedAt, k.id]);

export function decodeListCursor(cursor: string): ListKey {
  const [joinedAt, id] = decodeCursor(cursor, 2);
  if (typeof joinedAt !== "string" || typeof id !== "string" || !isUuid(id) || Number.isNaN(Date.parse(joinedAt))) {
    throw new ApiError("bad_request", "cursor is not one this service issued");
  }
  return { joinedAt, id };
}
