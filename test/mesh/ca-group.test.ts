import { describe, expect, it } from "vitest";
import { toBase64 } from "../../functions/mesh/ca/bytes";
import { call } from "../helpers";
import { cert, createGroup, eventsOfType, makeCsr, memberIdOf, postCsr } from "./ca-helpers";
import { groupStub, Identity, SimMember, waitFor } from "./members";

// The CA and the group object together: what certificateRequest issues is what MeshGroup admits (admit(record,
// group)), and a revocation through the operator API reaches it (revoke(id)).

/** The member the CA just enrolled, as the simulated member client (its own key, the record the object holds). */
async function memberFor(group: string, keys: CryptoKeyPair, id: string, numRings: number) {
  const snap = await groupStub(group).snapshot();
  const view = snap.members.find((m) => m.id === id)!;
  const ident = new (Identity as unknown as new (...a: unknown[]) => Identity)(id, keys, view, false);
  return new SimMember(group, ident, numRings);
}

describe("certificateRequest → MeshGroup.admit", () => {
  it("admits the enrolled member with the certificate's id, key, addresses, expiry, serial and the group's ring count", async () => {
    const { name } = await createGroup({ num_rings: 5, boot_nodes: 1 });
    const k = await makeCsr(["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"]);
    const r = await postCsr(name, k.der);
    expect(r.status).toBe(200);
    const id = memberIdOf(r.body.OwnCert);
    const c = cert(r.body.OwnCert);
    const snap = await groupStub(name).snapshot();
    expect(snap.numRings).toBe(5);
    expect(snap.members).toHaveLength(1);
    const spki = toBase64(new Uint8Array((await crypto.subtle.exportKey("spki", k.keys.publicKey)) as ArrayBuffer));
    expect(snap.members[0]).toMatchObject({
      id,
      spkiDer: spki,
      namedCurve: "P-256",
      rpcAddr: "127.0.0.1:7000",
      pingAddr: "127.0.0.1:7001",
      httpAddr: "127.0.0.1:7002",
      trusted: true,
      revoked: false,
      live: false,
    });
    expect(Date.parse(snap.members[0].notAfter)).toBe(c.notAfter.getTime());
  });

  it("lets the enrolled member connect with its own key and appear in GET /mesh/:group/members", async () => {
    const { name, token } = await createGroup({ num_rings: 3 });
    const k = await makeCsr(["127.0.0.1:7100", "127.0.0.1:7101"], { curve: "P-521" });
    const r = await postCsr(name, k.der);
    expect(r.status).toBe(200);
    const id = memberIdOf(r.body.OwnCert);
    const m = await memberFor(name, k.keys, id, 3);
    await m.connect();
    expect(m.of("welcome")[0]).toMatchObject({ id, group: name, numRings: 3 });
    expect(m.of("note-accepted")[0]).toMatchObject({ epoch: 1, live: true });
    const live = await call("GET", `/mesh/${name}/members`, { token });
    expect(live.status).toBe(200);
    expect(live.body.members).toEqual([{ id, rpcAddr: "127.0.0.1:7100", pingAddr: "127.0.0.1:7101", httpAddr: null }]);
    m.close();
  });

  it("a renewal with the same key updates the record the object holds (new expiry and addresses, same id)", async () => {
    const { name } = await createGroup();
    const k = await makeCsr(["127.0.0.1:7200", "127.0.0.1:7201"]);
    const first = await postCsr(name, k.der);
    const again = await postCsr(name, (await makeCsr(["127.0.0.1:7300", "127.0.0.1:7301"], { keys: k.keys })).der);
    expect(again.status).toBe(200);
    const id = memberIdOf(first.body.OwnCert);
    expect(memberIdOf(again.body.OwnCert)).toBe(id);
    const snap = await groupStub(name).snapshot();
    expect(snap.members.map((m) => [m.id, m.rpcAddr])).toEqual([[id, "127.0.0.1:7300"]]);
  });

  it("revoking through the operator API takes the member out of the group object and closes its socket", async () => {
    const { name, token } = await createGroup();
    const k = await makeCsr(["127.0.0.1:7400", "127.0.0.1:7401"]);
    const r = await postCsr(name, k.der);
    const id = memberIdOf(r.body.OwnCert);
    const m = await memberFor(name, k.keys, id, 10);
    await m.connect();
    const rv = await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${id}/revoke`, { token });
    expect(rv.status).toBe(200);
    await waitFor(() => m.closed, 3000, "socket closed");
    const snap = await groupStub(name).snapshot();
    expect(snap.members[0]).toMatchObject({ id, revoked: true, live: false });
    expect((await call("GET", `/mesh/${name}/members`, { token })).body.members).toEqual([]);
  });

  it("records mesh.enrolment_token.created about its group (subject mesh_group), not about the system", async () => {
    const { name, token } = await createGroup({ closed: true });
    const t = await call("POST", `/api/v1/admin/mesh/groups/${name}/enrolment-tokens`, { json: { uses: 2 }, token });
    expect(t.status).toBe(201);
    const ev = (await eventsOfType("mesh.enrolment_token.created")).filter((e) => e.subject.id === name);
    expect(ev).toHaveLength(1);
    expect(ev[0].subject).toEqual({ kind: "mesh_group", id: name });
    expect(ev[0].data).toMatchObject({ uses: 2 });
  });
});
