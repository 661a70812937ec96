import { describe, expect, it } from "vitest";
import { adminToken, call, createOperator } from "../helpers";
import { createGroup, groupName, makeCsr, memberIdOf, postCsr } from "./ca-helpers";

describe("operator API for mesh groups", () => {
  it("requires a token for every route, and the operator role for changes", async () => {
    const { name } = await createGroup();
    const viewer = await createOperator("viewer");
    const id = "ab".repeat(32);
    const routes: [string, string, unknown][] = [
      ["POST", "/api/v1/admin/mesh/groups", { name: groupName() }],
      ["POST", `/api/v1/admin/mesh/groups/${name}/enrolment-tokens`, {}],
      ["POST", `/api/v1/admin/mesh/groups/${name}/members/${id}/revoke`, undefined],
    ];
    for (const [method, path, json] of routes) {
      expect((await call(method, path, { json })).status, path).toBe(401);
      expect((await call(method, path, { json, token: viewer.token })).status, path).toBe(403);
    }
    for (const path of ["/api/v1/admin/mesh/groups", `/api/v1/admin/mesh/groups/${name}`]) {
      expect((await call("GET", path)).status, path).toBe(401);
      expect((await call("GET", path, { token: viewer.token })).status, path).toBe(200);
    }
  });

  it("creates a group with the settings' defaults (10 rings, 10 boot nodes) and its ca_addr", async () => {
    const { name, group } = await createGroup();
    expect(group).toMatchObject({ name, num_rings: 10, boot_nodes: 10, closed: false, ca_addr: `probes.example.org/mesh/${name}` });
    expect(group.ca_cert).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it("takes overrides of ring count, boot nodes and closed enrolment", async () => {
    const { group } = await createGroup({ num_rings: 3, boot_nodes: 5, closed: true });
    expect(group).toMatchObject({ num_rings: 3, boot_nodes: 5, closed: true });
  });

  it("refuses a duplicate name with 409 and bad bodies with 400", async () => {
    const { name, token } = await createGroup();
    expect((await call("POST", "/api/v1/admin/mesh/groups", { json: { name }, token })).status).toBe(409);
    for (const json of [{ name: "UPPER" }, { name: groupName(), num_rings: 0 }, { name: groupName(), boot_nodes: 1.5 }, { name: groupName(), extra: 1 }, {}]) {
      const r = await call("POST", "/api/v1/admin/mesh/groups", { json, token });
      expect(r.status, JSON.stringify(json)).toBe(400);
      expect(r.body.code).toBe("validation_failed");
    }
    const t = await call("POST", `/api/v1/admin/mesh/groups/${name}/enrolment-tokens`, { json: { uses: 0 }, token });
    expect(t.status).toBe(400);
  });

  it("lists groups with member counts and shows a group's members in enrolment order with their certificates", async () => {
    const { name, token } = await createGroup({ boot_nodes: 1 });
    const a = await postCsr(name, (await makeCsr(["10.9.0.1:1", "10.9.0.1:2"])).der);
    const b = await postCsr(name, (await makeCsr(["10.9.0.2:1", "10.9.0.2:2", "10.9.0.2:3"])).der);
    await call("POST", `/api/v1/admin/mesh/groups/${name}/members/${memberIdOf(b.body.OwnCert)}/revoke`, { token });

    const list = await call("GET", "/api/v1/admin/mesh/groups", { token });
    expect(list.body.groups.find((g: { name: string }) => g.name === name)).toMatchObject({ members: 2, revoked: 1 });

    const detail = await call("GET", `/api/v1/admin/mesh/groups/${name}`, { token });
    expect(detail.status).toBe(200);
    expect(detail.body.member_list.map((m: { id: string }) => m.id)).toEqual([memberIdOf(a.body.OwnCert), memberIdOf(b.body.OwnCert)]);
    expect(detail.body.member_list[0]).toMatchObject({
      seq: 1,
      trusted: true,
      rpc_addr: "10.9.0.1:1",
      http_addr: null,
      revoked_at: null,
      named_curve: "P-256",
    });
    expect(detail.body.member_list[1]).toMatchObject({ seq: 2, trusted: false, http_addr: "10.9.0.2:3" });
    expect(detail.body.member_list[1].revoked_at).not.toBeNull();
    expect(detail.body.member_list[0].not_after).toMatch(/Z$/);
    expect(detail.body.next_after_seq).toBeNull();

    const page = await call("GET", `/api/v1/admin/mesh/groups/${name}?limit=1`, { token });
    expect(page.body.member_list).toHaveLength(1);
    expect(page.body.next_after_seq).toBe(1);
    const rest = await call("GET", `/api/v1/admin/mesh/groups/${name}?limit=1&after_seq=1`, { token });
    expect(rest.body.member_list[0].seq).toBe(2);
  });

  it("answers 404 for an unknown group", async () => {
    const token = await adminToken();
    expect((await call("GET", "/api/v1/admin/mesh/groups/nope-nope", { token })).status).toBe(404);
    expect((await call("POST", "/api/v1/admin/mesh/groups/nope-nope/enrolment-tokens", { json: {}, token })).status).toBe(404);
  });
});

describe("OpenAPI", () => {
  it("documents the enrolment route with its raw request body and Ifrit's answer, and the operator routes", async () => {
    const doc = (await call("GET", "/openapi.json")).body;
    const enrol = doc.paths["/mesh/{group}/certificateRequest"].post;
    expect(Object.keys(enrol.requestBody.content)).toEqual(["text/plain", "application/pkcs10", "application/x-pem-file"]);
    expect(enrol.responses["200"].content["application/json"].schema.$ref).toBe("#/components/schemas/MeshCertificateAnswer");
    expect(doc.components.schemas.MeshCertificateAnswer.required).toEqual(["OwnCert", "KnownCerts", "CaCert", "Trusted"]);
    expect(doc.paths["/mesh/{group}/enrol/{token}/certificateRequest"].post).toBeDefined();
    for (const p of ["/api/v1/admin/mesh/groups", "/api/v1/admin/mesh/groups/{group}", "/api/v1/admin/mesh/groups/{group}/members/{id}/revoke"]) {
      expect(doc.paths[p], p).toBeDefined();
    }
  });
});
