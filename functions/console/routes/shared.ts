import type { Context, Hono } from "hono";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiClient } from "../api";
import type { ConsoleEnv } from "../session";

// What every page group of the console shares: its router type, rendering, and form picking.

export type C = Context<ConsoleEnv>;
/** A page group registers its routes on the console's router; changes go through the JSON API (`api`). */
export type PageGroup = (r: Hono<ConsoleEnv>, api: ApiClient) => void;

/** Render a page as a complete HTML document. */
export async function render(c: C, node: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(`<!doctype html>${await node.toString()}`, status);
}

/** Only the named keys of a query or form, as strings (repeated or file values are ignored). */
export function pick<K extends string>(src: Record<string, unknown>, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) if (typeof src[k] === "string") out[k] = (src[k] as string).slice(0, 1024);
  return out;
}
