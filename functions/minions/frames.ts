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

/**
 * Headers of a relayed reply that never reach the operator's client: hop-by-hop (RFC 9110 §7.6.1), recomputed
 * (length, encoding), and those that would let an agent act on the operator's browser session (cookies,
 * redirects, caching/sniffing overrides, its own CSP). Any `Proxy-*` header is dropped too.
 */
const DROP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "content-encoding",
  "upgrade",
  "te",
  "trailer",
  "set-cookie",
  "set-cookie2",
  "location",
  "refresh",
  "content-type",
  "content-security-policy",
  "content-security-policy-report-only",
  "x-content-type-options",
  "content-disposition",
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "strict-transport-security",
  "clear-site-data",
  "link",
]);

/** Content types an agent's reply may keep (as bare type/subtype, parameters kept); anything else is a download. */
export const SAFE_CONTENT_TYPES = new Set(["application/json", "text/plain", "application/octet-stream", "text/csv", "application/x-ndjson"]);

/** The content type to send for an agent's declared one: a safe type as declared, else application/octet-stream. */
export function safeContentType(declared: string | undefined): string {
  if (!declared) return "application/octet-stream";
  const one = declared.split(",")[0].trim();
  const base = one.split(";")[0].trim().toLowerCase();
  if (!SAFE_CONTENT_TYPES.has(base)) return "application/octet-stream";
  const charset = /;\s*charset=("?)([A-Za-z0-9._-]{1,40})\1\s*$/i.exec(one);
  return charset ? `${base}; charset=${charset[2].toLowerCase()}` : base;
}

/** The sandboxing CSP of every relayed reply: nothing it contains can run, load or navigate as our origin. */
export const PROXY_CSP = "sandbox; default-src 'none'";

export function replyHeaders(h: RelayReplyFrame["headers"]): Headers {
  const out = new Headers();
  let declaredType: string | undefined;
  for (const [k, v] of Object.entries(h ?? {})) {
    const name = k.toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) continue;
    if (name === "content-type") {
      const first = Array.isArray(v) ? v[0] : String(v);
      if (typeof first === "string" && !/[\r\n\0]/.test(first)) declaredType = first;
      continue;
    }
    if (DROP.has(name) || name.startsWith("proxy-")) continue;
    for (const one of Array.isArray(v) ? v : [String(v)]) {
      if (/[\r\n\0]/.test(one)) continue;
      out.append(k, one);
    }
  }
  out.set("Content-Type", safeContentType(declaredType));
  out.set("X-Content-Type-Options", "nosniff");
  out.set("Content-Security-Policy", PROXY_CSP);
  return out;
}
