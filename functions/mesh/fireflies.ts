import { neighbourRings, type Positions, predecessor } from "./ring";
import type { AccusationBody, NoteBody } from "./signatures";

/**
 * Notes, accusations, rebuttals and removal (seed-systems.md §3.3–3.4), as pure decisions over one group's view.
 * Signatures are checked by the caller (they need WebCrypto) after the structural checks here pass, in that
 * order, so a cheap rule rejects first. Times are epoch milliseconds from the caller's clock.
 */

export type Note = NoteBody & { sig: string };
export type Accusation = AccusationBody & { sig: string };

export type Peer = {
  id: string;
  live: boolean;
  note: Note | null;
  /** One slot per ring (Ifrit keeps one accusation per ring per accused). */
  accusations: Map<number, Accusation>;
  /** Removal deadline while accused and live; null otherwise. */
  timerAt: number | null;
};

export type GroupView = {
  numRings: number;
  /** The full view: every admitted member, live or not. */
  peers: ReadonlyMap<string, Peer>;
  positions: Positions;
};

export function liveIds(view: GroupView): string[] {
  return [...view.peers.values()].filter((p) => p.live).map((p) => p.id);
}

/** Rings that may be disabled at once: uint32(k/2 − 1) in Ifrit, never below 0 here (k = 1 underflows there). */
export function maxByz(numRings: number): number {
  return Math.max(0, Math.floor(numRings / 2) - 1);
}

export function fullMask(numRings: number): number {
  return numRings >= 32 ? 0xffffffff : (1 << numRings) - 1;
}

export function popcount(mask: number): number {
  let n = 0;
  for (let m = mask >>> 0; m; m >>>= 1) n += m & 1;
  return n;
}

export const ringEnabled = (mask: number, ring: number) => ((mask >>> (ring - 1)) & 1) === 1;

/** A mask is valid iff it names only rings 1..k and disables at most maxByz of them. */
export function validMask(mask: number, numRings: number): boolean {
  if (!Number.isInteger(mask) || mask < 0 || mask > 0xffffffff) return false;
  if ((mask >>> 0) & ~fullMask(numRings)) return false;
  return numRings - popcount(mask) <= maxByz(numRings);
}

/**
 * The mask of a rebuttal to an accusation on `ring`: disable that ring; if maxByz rings are already disabled,
 * re-enable the lowest other disabled ring first; with maxByz = 0 keep the mask.
 */
export function rebuttalMask(mask: number, ring: number, numRings: number): number {
  const byz = maxByz(numRings);
  if (byz === 0 || !ringEnabled(mask, ring)) return mask >>> 0;
  let m = mask >>> 0;
  if (numRings - popcount(m) >= byz) {
    for (let r = 1; r <= numRings; r++) {
      if (r !== ring && !ringEnabled(m, r)) {
        m |= 1 << (r - 1);
        break;
      }
    }
  }
  return (m & ~(1 << (ring - 1))) >>> 0;
}

export type NoteRejection = "unknown_member" | "stale_epoch" | "invalid_mask";

/** evalNote's rules before the signature: a known peer, a strictly newer epoch, a valid mask. */
export function checkNote(view: GroupView, note: NoteBody): NoteRejection | null {
  const peer = view.peers.get(note.id);
  if (!peer) return "unknown_member";
  if (!Number.isSafeInteger(note.epoch) || note.epoch < 1 || (peer.note && note.epoch <= peer.note.epoch)) return "stale_epoch";
  if (!validMask(note.mask, view.numRings)) return "invalid_mask";
  return null;
}

export type NoteEffect = { becameLive: boolean; rebutted: boolean; timerCancelled: boolean; accusationsLeft: number };

/**
 * Store an accepted note. Not accused: the peer is live. Accused: accusations older than the note go; when none
 * remain the removal timer is cancelled and the peer is live again (also after a removal: a rebuttal re-adds it).
 */
export function applyNote(peer: Peer, note: Note): NoteEffect {
  const wasLive = peer.live;
  peer.note = note;
  const accused = peer.accusations.size > 0;
  for (const [ring, a] of peer.accusations) if (a.epoch < note.epoch) peer.accusations.delete(ring);
  const left = peer.accusations.size;
  let timerCancelled = false;
  if (left === 0) {
    if (peer.timerAt !== null) timerCancelled = true;
    peer.timerAt = null;
    peer.live = true;
  }
  return { becameLive: !wasLive && peer.live, rebutted: accused && left === 0, timerCancelled, accusationsLeft: left };
}

export type AccusationRejection =
  | "unknown_member"
  | "no_note"
  | "duplicate"
  | "invalid_epoch"
  | "invalid_ring"
  | "ring_disabled"
  | "not_predecessor"
  | "self_accusation";

/**
 * evalAccusation's rules before the signature: both peers known and distinct, the accused has a note, not stored
 * already, the accused's current epoch, a ring 1..k enabled in its mask, and the accuser its predecessor on that
 * ring in the live ring. When either is missing from the live ring, the check is betweenness on the hash ring:
 * no live member lies between accuser and accused.
 */
export function checkAccusation(view: GroupView, a: AccusationBody): AccusationRejection | null {
  const accused = view.peers.get(a.accused);
  if (!accused || !view.peers.has(a.accuser)) return "unknown_member";
  if (a.accused === a.accuser) return "self_accusation";
  if (!accused.note) return "no_note";
  const stored = accused.accusations.get(a.ring);
  if (stored && stored.accuser === a.accuser && stored.epoch === a.epoch) return "duplicate";
  if (a.epoch !== accused.note.epoch) return "invalid_epoch";
  if (!Number.isInteger(a.ring) || a.ring < 1 || a.ring > view.numRings) return "invalid_ring";
  if (!ringEnabled(accused.note.mask, a.ring)) return "ring_disabled";
  const ring = new Set(liveIds(view));
  ring.add(a.accused);
  ring.add(a.accuser);
  if (predecessor(view.positions, ring, a.ring, a.accused) !== a.accuser) return "not_predecessor";
  return null;
}

/** Store an accepted accusation in its ring's slot; a live accused without a timer gets one. */
export function applyAccusation(peer: Peer, a: Accusation, now: number, removalTimeoutMs: number): { timerStarted: boolean } {
  peer.accusations.set(a.ring, a);
  if (peer.live && peer.timerAt === null) {
    peer.timerAt = now + removalTimeoutMs;
    return { timerStarted: true };
  }
  return { timerStarted: false };
}

/** Peers whose removal deadline has passed: out of the live view (their certificate stays in the full view). */
export function dueRemovals(view: GroupView, now: number): string[] {
  return [...view.peers.values()].filter((p) => p.live && p.timerAt !== null && p.timerAt <= now).map((p) => p.id);
}

export function remove(peer: Peer): void {
  peer.live = false;
  peer.timerAt = null;
}

/** The earliest removal deadline, for the object's one alarm. */
export function nextRemoval(view: GroupView): number | null {
  let at: number | null = null;
  for (const p of view.peers.values()) if (p.live && p.timerAt !== null && (at === null || p.timerAt < at)) at = p.timerAt;
  return at;
}

export type GossipAdmission = "neighbour" | "joining" | "accused" | "not_my_neighbour";

/**
 * Whether `receiver` takes gossip from `sender` (§3.5 receiver rules): a sender that lies next to the receiver on
 * some ring is a neighbour; a sender not yet live (no note) is joining; an accused sender may gossip so it can learn
 * its accusations and rebut; anyone else gets errNotMyNeighbour.
 */
export function gossipAdmission(view: GroupView, sender: string, receiver: string): GossipAdmission {
  const s = view.peers.get(sender);
  if (neighbourRings(view.positions, liveIds(view), view.numRings, receiver, sender).length > 0) return "neighbour";
  if (!s?.live || !s.note) return "joining";
  if (s.accusations.size > 0) return "accused";
  return "not_my_neighbour";
}
