import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import * as tables from "../../schema/tables";

/** The D1 database through drizzle, with every table's schema. */
export type Db = DrizzleD1Database<typeof tables>;

/** The one way to get a database handle from a D1 binding. */
export function dbFrom(d1: D1Database): Db {
  return drizzle(d1, { schema: tables });
}

/** Whether a D1 error is a UNIQUE constraint violation (a concurrent insert of the same key won). */
export function isUniqueViolation(e: unknown): boolean {
  // D1 says "UNIQUE constraint failed: <table>.<column>"; drizzle may wrap that error in its own, as the cause.
  for (let x: unknown = e, depth = 0; x !== undefined && x !== null && depth < 3; x = (x as { cause?: unknown }).cause, depth++) {
    if (String((x as Error)?.message ?? x).includes("UNIQUE constraint failed")) return true;
  }
  return false;
}
