import { z } from "@hono/zod-openapi";
import { clientIdKey, isClientId, MAX_CLIENT_ID_LENGTH } from "../functions/lib/ids";

export const EventQuery = z.object({
  job_id: z.string().uuid().optional(),
  // A probe's client_id: a UUID, or an adopted OONI id (functions/lib/ids.ts), in its stored form.
  probe_id: z.string().max(MAX_CLIENT_ID_LENGTH).refine(isClientId, "must be a probe's client_id").transform(clientIdKey).optional(),
  task_id: z.string().max(200).optional(),
  subject_kind: z
    .string()
    .regex(/^[a-z_]{1,32}$/, "must be a subject kind such as probe, minion, lease or mesh_member")
    .optional(),
  subject_id: z.string().min(1).max(1024).optional(),
  type: z
    .string()
    .regex(/^[a-z_.*]{1,64}$/, "must be an event type such as probe.registered, or a prefix such as task.*")
    .optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  order: z.enum(["asc", "desc"]).default("desc"),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(64).optional(),
});
export type EventQuery = z.infer<typeof EventQuery>;

export const Event = z
  .object({
    id: z.number(),
    at: z.string(),
    type: z.string(),
    actor: z.string(),
    job_id: z.string().nullable(),
    probe_id: z.string().nullable(),
    task_id: z.string().nullable(),
    subject: z.object({ kind: z.string(), id: z.string() }).openapi({ description: "what the event is about" }),
    data: z.record(z.string(), z.unknown()),
  })
  .openapi("Event");

export const EventList = z.object({ events: z.array(Event), next_cursor: z.string().nullable() }).openapi("EventList");
