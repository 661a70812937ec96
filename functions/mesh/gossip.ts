import { neighbours, type Positions } from "./ring";

/**
 * Gossip partner selection (seed-systems.md §3.5): each round a member gossips with the successor and predecessor
 * on the current ring (deduplicated, never itself), and the ring advances round-robin 1..k.
 */
export function gossipPartners(
  positions: Positions,
  live: readonly string[],
  member: string,
  cursor: number,
  numRings: number,
): { ring: number; partners: string[] } {
  const ring = (cursor % numRings) + 1;
  return { ring, partners: neighbours(positions, live, ring, member) };
}

/** Everyone `member` may gossip with on some ring: the union of its neighbours over rings 1..k. */
export function allNeighbours(positions: Positions, live: readonly string[], member: string, numRings: number): Set<string> {
  const out = new Set<string>();
  for (let r = 1; r <= numRings; r++) for (const n of neighbours(positions, live, r, member)) out.add(n);
  return out;
}
