import { sqliteTable, text } from "drizzle-orm/sqlite-core";

export const OPERATOR_ROLES = ["admin", "operator", "viewer"] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** Operator accounts created through the API. The bootstrap admin lives in settings, not here. */
export const operators = sqliteTable("operators", {
  id: text("id").primaryKey(),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  role: text("role", { enum: OPERATOR_ROLES }).notNull(),
  createdAt: text("created_at").notNull(),
  createdBy: text("created_by").notNull(),
  disabledAt: text("disabled_at"),
});

export type OperatorRow = typeof operators.$inferSelect;
