import { type Positions, successor } from "./ring";

/**
 * Failure detection (seed-systems.md §3.4), without Ifrit's bugs: a valid signed pong resets the monitor's
 * counter for that target, a missed or invalid pong adds one, and `ping_limit` consecutive failures make the
 * monitor accuse.
 */

export type PingOutcome = { failures: number; suspect: boolean };

export function recordPing(failures: number, ok: boolean, pingLimit: number): PingOutcome {
  if (ok) return { failures: 0, suspect: false };
  const n = failures + 1;
  return { failures: n, suspect: n >= pingLimit };
}

/** Probes per monitor round: pings_per_interval, 0 meaning 1, capped at the ring count (as Ifrit's NewNode). */
export function probesPerRound(pingsPerInterval: number, numRings: number): number {
  if (pingsPerInterval <= 0) return 1;
  return Math.min(pingsPerInterval, numRings);
}

export type PlannedPing = { monitor: string; target: string; ring: number };

/**
 * One monitor round: each monitor probes the successor on the next ring, cycling rings 1..k from its cursor
 * (the last ring it probed; 0 before its first round). Returns the probes and each monitor's new cursor.
 */
export function planPings(
  positions: Positions,
  live: readonly string[],
  monitors: readonly string[],
  cursors: ReadonlyMap<string, number>,
  perRound: number,
  numRings: number,
): { pings: PlannedPing[]; cursors: Map<string, number> } {
  const pings: PlannedPing[] = [];
  const next = new Map<string, number>();
  for (const m of monitors) {
    let ring = cursors.get(m) ?? 0;
    const seen = new Set<string>();
    for (let i = 0; i < perRound; i++) {
      ring = (ring % numRings) + 1;
      const target = successor(positions, live, ring, m);
      if (!target) continue;
      const key = `${target}/${ring}`;
      if (seen.has(key)) continue;
      seen.add(key);
      pings.push({ monitor: m, target, ring });
    }
    next.set(m, ring);
  }
  return { pings, cursors: next };
}
