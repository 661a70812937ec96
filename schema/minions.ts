import { index, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Agents (stormflash devices) enrolled in the minion registry (docs/minions.md "Enrolment"). An agent is its own
 * principal (kind "agent"), apart from mobile probes: it registers at POST /api/v1/agents/register, logs in at
 * POST /api/v1/agents/login with the server-generated secret, and connects with its agent token. In `approval`
 * mode it stays `pending` (cannot log in or connect) until an admin approves it.
 */
export const agents = sqliteTable(
  "agents",
  {
    id: text("id").primaryKey(),
    /** `sha256$<salt>$<hash>` of the 256-bit secret the server generated (high entropy: no PBKDF2 needed). */
    secretHash: text("secret_hash").notNull(),
    state: text("state", { enum: ["active", "pending"] }).notNull(),
    name: text("name"),
    /** How it enrolled (the AGENT_ENROLMENT mode then). */
    enrolment: text("enrolment", { enum: ["open", "token", "approval"] }).notNull(),
    createdAt: text("created_at").notNull(),
    approvedAt: text("approved_at"),
    approvedBy: text("approved_by"),
  },
  (t) => [index("agents_state_idx").on(t.state, t.createdAt)],
);
