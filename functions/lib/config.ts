import type { z } from "zod";
import { ApiError } from "./errors";

/**
 * The one settings dialect. Every surface's `settings.ts` builds its object from these readers, once per env
 * object (`cachedSettings`). Policy (docs/architecture.md "Settings"): a value that is malformed or out of
 * range, or a required secret that is missing or too short, is the deployment's fault. It throws
 * `misconfigured` (HTTP 503, naming the variable) on the first request or cron run that needs it, and is logged
 * by that cron run; nothing falls back silently to a default it was not asked for. An unset or empty variable
 * takes its documented default.
 */
type Vars = Record<string, unknown>;

const raw = (env: unknown, name: string): string | undefined => {
  const v = (env as Vars)[name];
  if (v === undefined || v === null) return undefined;
  const s = String(v);
  return s === "" ? undefined : s;
};

const bad = (name: string, what: string): ApiError => new ApiError("misconfigured", `setting ${name} must be ${what}`);

export function readInt(env: unknown, name: string, o: { fallback: number; min: number; max: number }): number {
  const s = raw(env, name);
  if (s === undefined) return o.fallback;
  const n = Number(s.trim());
  if (!/^-?\d+$/.test(s.trim()) || !Number.isSafeInteger(n) || n < o.min || n > o.max) throw bad(name, `an integer in ${o.min}..${o.max}`);
  return n;
}

const TRUE = new Set(["on", "true", "1"]);
const FALSE = new Set(["off", "false", "0"]);

export function readBool(env: unknown, name: string, fallback: boolean): boolean {
  const s = raw(env, name)?.trim().toLowerCase();
  if (s === undefined) return fallback;
  if (TRUE.has(s)) return true;
  if (FALSE.has(s)) return false;
  throw bad(name, `"on" or "off"`);
}

export function readString(env: unknown, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

/** An absolute http(s) URL without trailing slashes; `null` when unset and no fallback is given (the feature is off). */
export function readUrl(env: unknown, name: string, fallback: string): string;
export function readUrl(env: unknown, name: string, fallback?: null): string | null;
export function readUrl(env: unknown, name: string, fallback: string | null = null): string | null {
  const s = raw(env, name) ?? fallback;
  if (s === null) return null;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw bad(name, "an absolute URL");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw bad(name, "an http(s) URL");
  return u.toString().replace(/\/+$/, "");
}

export function readJson<T>(env: unknown, name: string, schema: z.ZodType<T>, fallback: T): T {
  const s = raw(env, name);
  if (s === undefined) return fallback;
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    throw bad(name, "JSON");
  }
  const r = schema.safeParse(parsed);
  if (!r.success) throw bad(name, `JSON of the documented shape (${r.error.issues[0]?.message ?? "invalid"})`);
  return r.data;
}

/** A Worker secret. `required` secrets throw when missing; an optional one is `null` when unset (its feature is off). */
export function readSecret(env: unknown, name: string, o: { minLength: number; required: true }): string;
export function readSecret(env: unknown, name: string, o: { minLength: number; required?: false }): string | null;
export function readSecret(env: unknown, name: string, o: { minLength: number; required?: boolean }): string | null {
  const s = raw(env, name);
  if (s === undefined) {
    if (o.required) throw new ApiError("misconfigured", `setting ${name} is not set`);
    return null;
  }
  if (s.length < o.minLength) throw new ApiError("misconfigured", `setting ${name} must be at least ${o.minLength} characters`);
  return s;
}

/** Memoises a surface's settings per env object (the runtime hands the same env to every request of an isolate). */
export function cachedSettings<T>(build: (env: Env) => T): (env: Env) => T {
  const cache = new WeakMap<object, T>();
  return (env) => {
    const hit = cache.get(env);
    if (hit !== undefined) return hit;
    const s = build(env);
    cache.set(env, s);
    return s;
  };
}
