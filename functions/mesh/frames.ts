import { z } from "zod";

/**
 * The member WebSocket's frames (docs/mesh.md "Membership"). JSON text frames; bytes (message, gossip and stream
 * payloads, signatures, nonces) are standard base64. Member → group frames are validated here; a bad frame gets
 * `{type:"error", code, error}` and the connection stays.
 */

export const MemberId = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters (the certificate's SubjectKeyId)");
const B64 = z
  .string()
  .max(1_400_000)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be standard base64");
const Rid = z.string().min(1).max(64);
const Epoch = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const Ring = z.number().int().min(1).max(32);
const Mask = z.number().int().min(0).max(0xffffffff);

export const NoteWire = z.object({ id: MemberId, epoch: Epoch, mask: Mask, sig: B64 });
export const AccusationWire = z.object({ accused: MemberId, accuser: MemberId, epoch: Epoch, ring: Ring, sig: B64 });

const Data = B64.nullable().optional();
const Err = z.string().max(4096).nullable().optional();

export const MemberFrame = z.discriminatedUnion("type", [
  /** The answer to the challenge: the signature over challengeContent, and the member's current note. */
  z.object({ type: z.literal("hello"), sig: B64, note: NoteWire.optional() }),
  z.object({ type: z.literal("note"), note: NoteWire }),
  z.object({ type: z.literal("accuse"), accusation: AccusationWire }),
  z.object({ type: z.literal("pong"), pid: Rid, sig: B64 }),
  /** SendToId (`to`) or SendTo (`addr`, an rpc address from Members()). */
  z
    .object({ type: z.literal("send"), rid: Rid, to: MemberId.optional(), addr: z.string().max(300).optional(), data: B64 })
    .refine((f) => (f.to === undefined) !== (f.addr === undefined), "exactly one of to and addr"),
  z.object({ type: z.literal("msg-reply"), mid: Rid, data: Data, error: Err }),
  z.object({ type: z.literal("gossip-set"), data: B64.nullable() }),
  z.object({ type: z.literal("gossip-reply"), gid: Rid, data: Data, error: Err }),
  /** Gossip to one member now (the receiver's rules apply: neighbours, joining or accused senders only). */
  z.object({ type: z.literal("gossip-to"), rid: Rid, to: MemberId, data: B64 }),
  z.object({ type: z.literal("stream-open"), sid: Rid, to: MemberId }),
  z.object({ type: z.literal("stream-data"), sid: Rid, data: B64 }),
  z.object({ type: z.literal("stream-close"), sid: Rid }),
  /** Ask for the whole view now (it also comes as deltas each gossip round). */
  z.object({ type: z.literal("sync") }),
]);

export type MemberFrame = z.infer<typeof MemberFrame>;

export type ParsedFrame = { ok: true; frame: MemberFrame } | { ok: false; error: string };

export function parseMemberFrame(text: string): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: "frame is not JSON" };
  }
  const r = MemberFrame.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    return { ok: false, error: `invalid frame: ${i.path.join(".") || "(frame)"}: ${i.message}` };
  }
  return { ok: true, frame: r.data };
}
