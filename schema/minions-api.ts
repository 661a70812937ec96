import { z } from "@hono/zod-openapi";

// Request/response schemas of the minion registry (Stormtower; docs/minions.md).

export const MinionIdParam = z.object({
  id: z
    .string()
    .uuid("must be a device id (client_id) this service issued")
    .transform((s) => s.toLowerCase())
    .openapi({ param: { name: "id", in: "path" }, example: "30a2a131-f812-4666-bb69-c443f7e3a901" }),
});

export const MinionsQuery = z.object({
  since: z
    .string()
    .min(1)
    .max(512)
    .optional()
    .openapi({ description: "Change feed: a cursor from X-Minions-Cursor or a previous next_cursor, or 0 for the whole history" }),
  cursor: z
    .string()
    .min(1)
    .max(512)
    .optional()
    .openapi({ description: "Listing: the next page, from a previous page's Link rel=next or X-Minions-Next-Cursor" }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(5000)
    .optional()
    .openapi({ description: "Listing: statuses per page (default and most MINIONS_PAGE_SIZE). Change feed: events per page (default 500, most 1000)" }),
});

/** A minion's status as its agent's `GET /status` returned it (with `id`), `os` included. */
export const MinionStatus = z.record(z.string(), z.unknown()).openapi("MinionStatus");

export const MinionChange = z.object({
  id: z.string(),
  type: z.enum(["joined", "changed", "left"]),
  at: z.string(),
  checksum: z.string().nullable(),
});

export const MinionChanges = z
  .object({
    changes: z.array(MinionChange),
    /** Distinct minion ids in `changes`, in order of their latest change. */
    ids: z.array(z.string()),
    next_cursor: z.string(),
    more: z.boolean(),
  })
  .openapi("MinionChanges");

export const MinionBuckets = z
  .object({
    checksum: z.string(),
    count: z.number().int(),
    buckets: z.array(z.object({ bucket: z.string(), digest: z.string(), count: z.number().int() })),
  })
  .openapi("MinionBuckets");

export const BenchSeedBody = z.object({
  count: z.number().int().min(1).max(20_000),
  offset: z.number().int().min(0).max(1_000_000).default(0),
  round: z.number().int().min(0).max(1_000_000).default(0),
  /** true: one shard write per minion (the path an agent's poll takes); false: one bulk write per shard. */
  single: z.boolean().default(false),
});
