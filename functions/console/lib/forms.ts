import type { ErrorDetail } from "../../lib/errors";

// Form plumbing shared by every console form: the API's `details` mapped to fields, safe redirects, query strings.

export type FieldErrors = Record<string, string[]>;

/** Add a message under a field. */
export function push(errors: FieldErrors, field: string, message: string): void {
  const list = errors[field];
  if (list) list.push(message);
  else errors[field] = [message];
}

/** A C0 control character (U+0000-U+001F) anywhere in the text. */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}

/**
 * The API's validation details (`[{path, message}]`) by field name. A nested path ("target.countries.0") belongs to
 * its first segment unless the form names the full path; details for no field of the form go under "" (form level).
 */
export function fieldErrors(details: ErrorDetail[] | undefined, fields: readonly string[] = []): FieldErrors {
  const out: FieldErrors = {};
  for (const d of details ?? []) {
    const exact = fields.includes(d.path) ? d.path : null;
    const head = d.path.split(".")[0];
    const key = exact ?? (fields.length === 0 || fields.includes(head) ? head : "");
    push(out, key, d.message);
  }
  return out;
}

/** Where to go after login: only a console path, never another origin (no "//host", no backslashes, no scheme). */
export function safeNext(next: string | undefined | null): string {
  if (!next || next.length > 512) return "/console";
  if (!/^\/console(?:[/?#]|$)/.test(next)) return "/console";
  if (next.includes("\\") || next.includes("//") || hasControlCharacter(next)) return "/console";
  return next;
}

/** A query string from a record, dropping empty values; for filter and pagination links. */
export function queryString(params: Record<string, string | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : "";
}

/** A `datetime-local` value ("2026-11-24T10:30") read as UTC, or an RFC 3339 string passed through; "" stays absent. */
export function utcInput(v: string | undefined): string | undefined {
  if (!v) return undefined;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(v)) return `${v}:00Z`;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/.test(v)) return `${v}Z`;
  return v;
}
