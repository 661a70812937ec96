import { OpenAPIHono } from "@hono/zod-openapi";
import type { ZodError, ZodType } from "zod";
import type { Principal, TokenClaims } from "../auth/tokens";
import { type Clock, systemClock } from "./clock";
import { type Db, dbFrom } from "./db";
import { type Commit, d1Commit, soloCommit } from "./d1-commit";
import { ApiError } from "./errors";
import { type Settings, settingsFrom } from "./settings";

/**
 * The per-request service container: handlers take what they need from `c.var.services`.
 * `commit` is the hot write paths' atomic batch, shared with concurrent requests (lib/group-commit.ts).
 */
export type Services = { db: Db; settings: Settings; clock: Clock; commit: Commit };

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    services: Services;
    principal?: Principal /** The verified token behind `principal` (revocation needs its jti and expiry). */;
    token?: TokenClaims;
  };
};

export type ServiceOptions = {
  clock?: Clock;
  /** The request's `waitUntil`; without one (cron, Durable Objects) a commit's own await carries its flush. */
  keepAlive?: (work: Promise<unknown>) => void;
  /** Told how many requests shared each commit's D1 round trip. */
  onCommitted?: (sharedBy: number) => void;
};

export function buildServices(env: Env, { clock = systemClock, keepAlive = () => {}, onCommitted }: ServiceOptions = {}): Services {
  const settings = settingsFrom(env);
  const db = dbFrom(env.DB);
  const commit = settings.groupCommit ? d1Commit(env.DB, keepAlive, onCommitted, settings.commitWaitMs) : soloCommit(db, onCommitted);
  return { db, settings, clock, commit };
}

/** zod issues as `path: message` details, for the envelope and for forms that show errors next to fields. */
export function zodDetails(err: ZodError): { path: string; message: string }[] {
  return err.issues.map((i) => ({ path: i.path.map(String).join(".") || "(body)", message: i.message }));
}

export function validationError(err: ZodError): ApiError {
  const details = zodDetails(err);
  const summary = details
    .slice(0, 5)
    .map((d) => `${d.path}: ${d.message}`)
    .join("; ");
  return new ApiError("validation_failed", `invalid request: ${summary}`, details);
}

/** Every router is made here, so a failed zod validation anywhere becomes the one 400 envelope. */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error as ZodError);
    },
  });
}

/**
 * A JSON body read by hand (routes that take any method, or whose body is optional), validated like a declared one:
 * malformed JSON is 400 `invalid_json`, a body the schema refuses is the one `validation_failed` envelope.
 */
export function parseJsonText<T>(text: string, schema: ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError("invalid_json", "request body is not valid JSON");
  }
  const r = schema.safeParse(json);
  if (!r.success) throw validationError(r.error);
  return r.data;
}
