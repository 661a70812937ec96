import { ApiError } from "../lib/errors";

/**
 * Routes that take bodies larger than MAX_BODY_BYTES (measurements, whole test lists) and read them with their
 * own cap instead; the app's body limit skips exactly these paths.
 */
export function hasOwnBodyLimit(path: string): boolean {
  return path === "/api/v1/submit_measurement" || path === "/report" || path.startsWith("/report/") || path === "/api/v1/admin/test-lists";
}

/** The request body as bytes, at most `max` of them: a larger one is a 413 before it is read in full. */
export async function readCapped(req: Request, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > max) throw new ApiError("payload_too_large", `request body exceeds ${max} bytes`);
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new ApiError("payload_too_large", `request body exceeds ${max} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
