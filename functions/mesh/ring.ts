/**
 * Fireflies rings (seed-systems.md §3.2): member `id` sits on ring r (1..k) at SHA-256(idBytes ‖ ASCII(decimal r)),
 * rings sorted bytewise, successor and predecessor wrapping around. Positions are lowercase hex of the digest, so
 * string order is byte order. Computing positions is async (WebCrypto); everything after that is synchronous.
 */

export type Positions = ReadonlyMap<string, readonly string[]>;

export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The member's k positions: index r-1 holds ring r's. */
export async function ringPositions(id: string, numRings: number): Promise<string[]> {
  const idBytes = hexToBytes(id);
  const out: string[] = [];
  for (let r = 1; r <= numRings; r++) {
    const suffix = new TextEncoder().encode(String(r));
    const buf = new Uint8Array(idBytes.length + suffix.length);
    buf.set(idBytes);
    buf.set(suffix, idBytes.length);
    out.push(bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf))));
  }
  return out;
}

function pos(positions: Positions, id: string, ring: number): string {
  const p = positions.get(id)?.[ring - 1];
  if (p === undefined) throw new Error(`no ring position for ${id} on ring ${ring}`);
  return p;
}

/** The members of `ids` in ring order on `ring`. */
export function ringOrder(positions: Positions, ids: Iterable<string>, ring: number): string[] {
  return [...new Set(ids)].sort((a, b) => {
    const pa = pos(positions, a, ring);
    const pb = pos(positions, b, ring);
    return pa < pb ? -1 : pa > pb ? 1 : 0;
  });
}

/**
 * `id`'s successor on `ring` among `ids` (id itself need not be in `ids` and is never its own successor):
 * the member with the smallest position above id's, wrapping to the smallest overall. Null when nobody else.
 */
export function successor(positions: Positions, ids: Iterable<string>, ring: number, id: string): string | null {
  const me = pos(positions, id, ring);
  let next: string | null = null;
  let lowest: string | null = null;
  for (const other of ids) {
    if (other === id) continue;
    const p = pos(positions, other, ring);
    if (lowest === null || p < pos(positions, lowest, ring)) lowest = other;
    if (p > me && (next === null || p < pos(positions, next, ring))) next = other;
  }
  return next ?? lowest;
}

/** `id`'s predecessor on `ring` among `ids`: the largest position below id's, wrapping to the largest overall. */
export function predecessor(positions: Positions, ids: Iterable<string>, ring: number, id: string): string | null {
  const me = pos(positions, id, ring);
  let prev: string | null = null;
  let highest: string | null = null;
  for (const other of ids) {
    if (other === id) continue;
    const p = pos(positions, other, ring);
    if (highest === null || p > pos(positions, highest, ring)) highest = other;
    if (p < me && (prev === null || p > pos(positions, prev, ring))) prev = other;
  }
  return prev ?? highest;
}

/** Successor and predecessor on one ring, deduplicated, never `id` itself (gossip partners, §3.5). */
export function neighbours(positions: Positions, ids: Iterable<string>, ring: number, id: string): string[] {
  const list = [...ids];
  const out = new Set<string>();
  const s = successor(positions, list, ring, id);
  const p = predecessor(positions, list, ring, id);
  if (s) out.add(s);
  if (p) out.add(p);
  return [...out];
}

/** Rings (1..k) on which `other` is `id`'s successor or predecessor among `ids` ∪ {other}. */
export function neighbourRings(positions: Positions, ids: Iterable<string>, numRings: number, id: string, other: string): number[] {
  const set = new Set(ids);
  set.add(other);
  const out: number[] = [];
  for (let r = 1; r <= numRings; r++) if (neighbours(positions, set, r, id).includes(other)) out.push(r);
  return out;
}
