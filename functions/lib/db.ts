import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import * as tables from "../../schema/tables";

/** The D1 database through drizzle, with every table's schema. */
export type Db = DrizzleD1Database<typeof tables>;

/** The one way to get a database handle from a D1 binding. */
export function dbFrom(d1: D1Database): Db {
  return drizzle(d1, { schema: tables });
}
