import type { NewEvent } from "../events/store";
import { rfc3339 } from "../lib/clock";

/**
 * The membership events a group object records (subject kind "mesh_member", the member id):
 *
 * | type                  | when                                                                  | actor             | data                          |
 * | --------------------- | --------------------------------------------------------------------- | ----------------- | ----------------------------- |
 * | mesh.member.admitted  | the member enters the live view (its first note, or a note after removal) | member:<id>   | group, epoch                  |
 * | mesh.member.accused   | an accusation against it is accepted                                  | member:<accuser>  | group, accuser, ring, epoch   |
 * | mesh.member.rebutted  | its newer note discards every accusation against it                   | member:<id>       | group, epoch, mask            |
 * | mesh.member.removed   | it leaves the live view: an unrebutted accusation's removal_timeout, or its certificate expired | system | group, reason |
 * | mesh.member.revoked   | the group object drops it after an operator's revocation              | system            | group                         |
 *
 * The object writes them through an outbox in its own storage, flushed to D1 in batches (EVENT_BATCH per
 * statement batch, at most EVENT_OUTBOX_MAX kept while D1 is unreachable, the oldest dropped first).
 */
export type MeshMemberEvent =
  | { type: "admitted"; id: string; epoch: number }
  | { type: "accused"; id: string; accuser: string; ring: number; epoch: number }
  | { type: "rebutted"; id: string; epoch: number; mask: number }
  | { type: "removed"; id: string; reason: "removal_timeout" | "certificate_expired" }
  | { type: "revoked"; id: string };

export const EVENT_BATCH = 50;
export const EVENT_OUTBOX_MAX = 1000;

export function meshMemberEvent(group: string, at: number, e: MeshMemberEvent): NewEvent {
  const { type, id, ...rest } = e;
  const actor = e.type === "accused" ? `member:${e.accuser}` : e.type === "admitted" || e.type === "rebutted" ? `member:${id}` : "system";
  return { at: rfc3339(new Date(at)), type: `mesh.member.${type}`, actor, subject: { kind: "mesh_member", id }, data: { group, ...rest } };
}
