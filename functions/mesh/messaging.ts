/**
 * SendTo/SendToId planning (seed-systems.md §3.6): at most `max_concurrent_messages` of one sender's messages are
 * in flight; the rest wait in order and go out as replies come back. Nothing is dropped.
 */

export type QueuedMessage = { key: string; sender: string; seq: number };

/** Which of a sender's queued messages may go out now (oldest first), given how many are already in flight. */
export function dispatchable<T extends QueuedMessage>(queued: readonly T[], inFlight: number, limit: number): T[] {
  const room = Math.max(0, limit - inFlight);
  return [...queued].sort((a, b) => a.seq - b.seq).slice(0, room);
}

export type Destination = { id: string; connected: boolean } | null;

/** How a message to `to` (an id for SendToId, or an rpc address for SendTo) resolves against the full view. */
export function resolveDestination(
  members: ReadonlyArray<{ id: string; rpcAddr: string; revoked: boolean }>,
  to: { id?: string; addr?: string },
): string | null {
  const m = members.find((x) => !x.revoked && (to.id !== undefined ? x.id === to.id : x.rpcAddr === to.addr));
  return m ? m.id : null;
}
