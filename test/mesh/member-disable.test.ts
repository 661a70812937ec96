import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createOperator } from "../helpers";
import { createGroup, makeCsr, memberIdOf, postCsr } from "./ca-helpers";
import { Identity, SimMember, upgrade, waitFor } from "./members";

/** A member enrolled through the CA (so D1 and the group object both know it), with a simulator holding its key. */
async function enrolled(group: string, n: number) {
  const csr = await makeCsr([`10.7.0.${n}:8300`, `10.7.0.${n}:8301`]);
  const r = await postCsr(group, csr.der);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const id = memberIdOf(r.body.OwnCert);
  // The simulator only needs the member's id and key to answer the challenge and sign requests.
  const me = Object.assign(Object.create(Identity.prototype) as Identity, { id, keys: csr.keys, der: false });
  return new SimMember(group, me);
}

async function signedGet(m: SimMember) {
  const path = `/mesh/${m.group}/members`;
  return call("GET", path, { headers: await m.signedHeaders("GET", path) });
}

describe("disabling a mesh member", () => {
  it("closes its socket; it can neither connect nor sign requests until enabled, then both work again", async () => {
    const { name, token } = await createGroup();
    const m = await enrolled(name, 1);
    await m.connect();
    expect(m.closed).toBe(false);
    expect((await signedGet(m)).status).toBe(200);
    const op = await createOperator("operator");
    const r = await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${m.id}/disable`, { token: op.token });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toEqual({ id: m.id, group: name, disabled: true });
    await waitFor(() => m.closed, 3000, "the member's socket to close");
    const signed = await signedGet(m);
    expect(signed.status).toBe(403);
    expect(signed.body).toMatchObject({ code: "forbidden" });
    const again = await upgrade(name, m.id);
    expect(again.status).toBe(403);
    expect(((await again.json()) as { error: string }).error).toMatch(/disabled/);
    // Still in the group's records (not revoked): the operator's view lists it.
    expect((await call("GET", `/api/v1/admin/mesh/groups/${name}`, { token })).body.member_list.map((x: { id: string }) => x.id)).toContain(m.id);
    expect((await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${m.id}/enable`, { token: op.token })).body).toEqual({
      id: m.id,
      group: name,
      disabled: false,
    });
    expect((await signedGet(m)).status).toBe(200);
    m.frames = [];
    await m.connect();
    expect(m.closed).toBe(false);
    expect(m.frames.map((f) => f.type)).toEqual(expect.arrayContaining(["challenge", "welcome", "note-accepted"]));
    m.close();
  });

  it("records events and audit entries naming the operator; needs the operator role; unknown members are 404; a revoked member cannot be enabled", async () => {
    const { name, token } = await createGroup();
    const m = await enrolled(name, 2);
    const viewer = await createOperator("viewer");
    const path = (a: string) => `/api/v1/admin/mesh/groups/${name}/members/${m.id}/${a}`;
    expect((await call("POST", path("disable"), { token: viewer.token })).status).toBe(403);
    expect((await call("POST", path("disable"))).status).toBe(401);
    expect((await call("POST", path("disable"), { token })).status).toBe(200);
    expect((await call("POST", path("enable"), { token })).status).toBe(200);
    const ev = await env.DB.prepare(
      "SELECT type, actor, data FROM events WHERE subject_kind = 'mesh_member' AND subject_id = ? AND type LIKE 'mesh.member.%abled' ORDER BY id",
    )
      .bind(m.id)
      .all<{ type: string; actor: string; data: string }>();
    expect(ev.results.map((e) => [e.type, e.actor, JSON.parse(e.data).group])).toEqual([
      ["mesh.member.disabled", "operator:admin", name],
      ["mesh.member.enabled", "operator:admin", name],
    ]);
    const audit = await env.DB.prepare(
      "SELECT action FROM audit_log WHERE subject_kind = 'mesh_member' AND subject_id = ? AND action LIKE 'mesh.member.%' ORDER BY seq",
    )
      .bind(m.id)
      .all<{ action: string }>();
    expect(audit.results.map((a) => a.action)).toEqual(["mesh.member.disabled", "mesh.member.enabled"]);
    expect((await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${"e".repeat(64)}/disable`, { token })).status).toBe(404);
    expect((await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${m.id}/revoke`, { token })).status).toBe(200);
    expect((await call("POST", path("enable"), { token })).status).toBe(409);
    expect((await signedGet(m)).status).toBe(403);
  });
  it("a disabled member cannot renew its certificate with the same key until it is enabled", async () => {
    const { name } = await createGroup();
    const csr = await makeCsr(["10.7.0.9:8300", "10.7.0.9:8301"]);
    const first = await postCsr(name, csr.der);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const id = memberIdOf(first.body.OwnCert);
    const op = await createOperator("operator");
    expect((await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${id}/disable`, { token: op.token })).status).toBe(200);
    const renewal = await postCsr(name, csr.der);
    expect(renewal.status).toBe(403);
    expect(JSON.stringify(renewal.body)).toMatch(/disabled/);
    expect((await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${id}/enable`, { token: op.token })).status).toBe(200);
    const again = await postCsr(name, csr.der);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(memberIdOf(again.body.OwnCert)).toBe(id);
  });
});
