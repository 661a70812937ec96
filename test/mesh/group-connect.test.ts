import { describe, expect, it } from "vitest";
import { adminToken, call, createOperator } from "../helpers";
import { groupStub, Identity, newGroup, SimMember, startGroup, upgrade, waitFor } from "./members";

describe("GET /mesh/:group/members/:id/connect", () => {
  it("challenges the member, accepts a signature made with its certificate key, and publishes its first note", async () => {
    const { members, stub } = await startGroup(1);
    const m = members[0];
    expect(m.of("challenge")[0]).toMatchObject({ type: "challenge", id: m.id });
    expect(m.of("welcome")[0]).toMatchObject({
      id: m.id,
      numRings: 10,
      config: { gossip_interval: 10, monitor_interval: 10, ping_limit: 3, removal_timeout: 60, max_concurrent_messages: 5, pings_per_interval: 3 },
    });
    expect(m.of("note-accepted")[0]).toMatchObject({ epoch: 1, mask: 1023, live: true });
    expect((await stub.liveView()).map((x) => x.id)).toEqual([m.id]);
    m.close();
  });

  it("accepts Go-style DER signatures and P-521 keys as well as raw r||s", async () => {
    const group = newGroup();
    const ident = await Identity.create({ curve: "P-521", der: true });
    await groupStub(group).admit(ident.record);
    const m = new SimMember(group, ident);
    await m.connect();
    expect(m.of("note-accepted")).toHaveLength(1);
    m.close();
  });

  it("closes the connection when the challenge is signed by another key (a certificate this group never admitted)", async () => {
    const group = newGroup();
    const ident = await Identity.create();
    await groupStub(group).admit(ident.record);
    const m = new SimMember(group, ident);
    await m.connect({ wrongKey: await Identity.create() });
    await waitFor(() => m.closed);
    expect(m.of("error")[0]).toMatchObject({ code: "bad_signature" });
    expect(m.of("welcome")).toHaveLength(0);
    expect(await groupStub(group).liveView()).toEqual([]);
  });

  it("refuses an id the group never admitted with 404, a revoked member with 403, an expired certificate with 403", async () => {
    const group = newGroup();
    const stranger = await Identity.create();
    const r = await upgrade(group, stranger.id);
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ code: "not_found" });
    const revoked = await Identity.create();
    await groupStub(group).admit(revoked.record);
    await groupStub(group).revoke(revoked.id);
    expect((await upgrade(group, revoked.id)).status).toBe(403);
    const expired = await Identity.create({ notAfter: new Date(Date.now() - 1000).toISOString() });
    await groupStub(group).admit(expired.record);
    expect((await upgrade(group, expired.id)).status).toBe(403);
  });

  it("refuses a plain GET with 426 and malformed ids or group names with 400, in the one envelope", async () => {
    const ident = await Identity.create();
    const plain = await call("GET", `/mesh/g1/members/${ident.id}/connect`);
    expect(plain.status).toBe(426);
    expect(plain.body.code).toBe("upgrade_required");
    expect((await upgrade("g1", "abc")).status).toBe(400);
    expect((await upgrade("bad group!", ident.id)).status).toBe(400);
  });

  it("revocation closes the member's socket and takes it out of the live view", async () => {
    const { members, stub } = await startGroup(2);
    await stub.revoke(members[0].id);
    await waitFor(() => members[0].closed);
    expect((await stub.liveView()).map((x) => x.id)).toEqual([members[1].id]);
    members[1].close();
  });
});

describe("GET /mesh/:group/members", () => {
  it("gives operators (viewer and above) the live view with ids and addresses", async () => {
    const { group, members } = await startGroup(2);
    const viewer = await createOperator("viewer");
    const r = await call("GET", `/mesh/${group}/members`, { token: viewer.token });
    expect(r.status).toBe(200);
    expect(r.body.members.map((x: any) => x.id).sort()).toEqual(members.map((m) => m.id).sort());
    expect(r.body.members[0]).toEqual(expect.objectContaining({ rpcAddr: expect.any(String), pingAddr: expect.any(String), httpAddr: null }));
    expect((await call("GET", `/mesh/${group}/members`, { token: await adminToken() })).status).toBe(200);
    for (const m of members) m.close();
  });

  it("gives a member with a valid signed request the live view; refuses a bad signature, a stale timestamp and no credentials", async () => {
    const { group, members } = await startGroup(2);
    const path = `/mesh/${group}/members`;
    const ok = await call("GET", path, { headers: await members[0].signedHeaders("GET", path) });
    expect(ok.status).toBe(200);
    expect(ok.body.members).toHaveLength(2);
    const forged = await members[0].signedHeaders("GET", path);
    forged["x-mesh-member"] = members[1].id;
    expect((await call("GET", path, { headers: forged })).status).toBe(401);
    const stale = await members[0].signedHeaders("GET", path, "", Math.floor(Date.now() / 1000) - 3600);
    expect((await call("GET", path, { headers: stale })).status).toBe(401);
    const none = await call("GET", path);
    expect(none.status).toBe(401);
    expect(none.body.code).toBe("unauthorized");
    // A member of another group is unknown here.
    const other = await startGroup(1);
    expect((await call("GET", path, { headers: await other.members[0].signedHeaders("GET", path) })).status).toBe(401);
    for (const m of [...members, ...other.members]) m.close();
  });
});
