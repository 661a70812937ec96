import { z } from "zod";

/** Frames an agent sends over its WebSocket (docs/minions.md). Anything else is answered with an `error` frame. */
export const Port = z.number().int().min(1).max(65535);

export const HelloFrame = z.object({ type: z.literal("hello"), capability: z.array(Port).min(1).max(64) });
export const BeaconFrame = z.object({ type: z.literal("beacon") });
export const RelayReplyFrame = z.object({
  type: z.literal("relay-reply"),
  rid: z.string().min(1).max(64),
  statusCode: z.number().int().min(100).max(599).optional(),
  headers: z
    .record(z.string(), z.union([z.string(), z.number(), z.array(z.string())]))
    .nullable()
    .optional(),
  body: z.string().nullable().optional(),
  /** An agent-side failure (stormbolt's request error): relayed to the caller as 500. */
  error: z.string().max(1000).optional(),
});
export const AgentFrame = z.discriminatedUnion("type", [HelloFrame, BeaconFrame, RelayReplyFrame]);
export type AgentFrame = z.infer<typeof AgentFrame>;
export type RelayReplyFrame = z.infer<typeof RelayReplyFrame>;

/** The exact beacon text answered by the runtime without waking the agent's object (WebSocket auto-response). */
export const BEACON_TEXT = '{"type":"beacon"}';
export const BEACON_REPLY_TEXT = '{"type":"beacon:reply"}';

/** Parse one text frame; returns the frame or a short reason. */
export function parseAgentFrame(text: string): { ok: true; frame: AgentFrame } | { ok: false; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, error: "frame is not JSON" };
  }
  const r = AgentFrame.safeParse(v);
  if (!r.success) {
    const i = r.error.issues[0];
    return { ok: false, error: `invalid frame: ${i.path.join(".") || "(frame)"}: ${i.message}` };
  }
  return { ok: true, frame: r.data };
}

/** Headers of a relayed reply that must not be copied into our response (hop-by-hop or recomputed). */
const DROP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "upgrade", "te", "trailer", "proxy-connection"]);

export function replyHeaders(h: RelayReplyFrame["headers"]): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h ?? {})) {
    if (DROP.has(k.toLowerCase()) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) continue;
    for (const one of Array.isArray(v) ? v : [String(v)]) {
      if (/[\r\n\0]/.test(one)) continue;
      out.append(k, one);
    }
  }
  return out;
}
