import { describe, expect, it } from "vitest";
import { call, consoleLogin } from "../console/helpers";
import { call as apiCall } from "../helpers";
import { createGroup, makeCsr, memberIdOf, postCsr } from "./ca-helpers";
import { startGroup, waitFor } from "./members";

describe("console: /console/mesh", () => {
  it("lists the groups from D1 with their member and revoked counts, each linking to its page, under a Mesh nav entry", async () => {
    const a = await createGroup({ num_rings: 4, boot_nodes: 2 });
    const b = await createGroup({ closed: true });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(memberIdOf((await postCsr(a.name, (await makeCsr([`127.0.0.1:${7000 + i}`, `127.0.0.1:${7100 + i}`])).der)).body.OwnCert));
    expect((await apiCall("POST", `/api/v1/admin/mesh/groups/${a.name}/members/${ids[0]}/revoke`, { token: a.token })).status).toBe(200);
    const browser = await consoleLogin();
    const r = await call("GET", "/console/mesh", { headers: { cookie: browser.cookie } });
    expect(r.status).toBe(200);
    expect(r.body).toContain('href="/console/mesh"');
    const rowOf = (name: string) => new RegExp(`<a href="/console/mesh/${name}">${name}</a>.*?</tr>`, "s").exec(r.body)?.[0] ?? "";
    const cells = (row: string) => [...row.matchAll(/<td[^>]*>(.*?)<\/td>/gs)].map((m) => m[1].replace(/<[^>]+>/g, ""));
    expect(cells(rowOf(a.name)).slice(0, 5)).toEqual(["2", "1", "4", "2", "open"]);
    expect(cells(rowOf(b.name)).slice(0, 5)).toEqual(["0", "0", "10", "10", "closed (token)"]);
  });

  it("pages the list after a group name and refuses a malformed one", async () => {
    const browser = await consoleLogin();
    const r = await call("GET", "/console/mesh?after=zzzzzzzz", { headers: { cookie: browser.cookie } });
    expect(r.status).toBe(200);
    expect(r.body).toContain("No mesh group yet");
    expect((await call("GET", "/console/mesh?after=Bad%20Name", { headers: { cookie: browser.cookie } })).status).toBe(400);
  });
});

describe("console: /console/mesh/:group", () => {
  it("shows the group's members, live or removed, their certificates' expiry, and recent accusations", async () => {
    const { name } = await createGroup();
    const { group, members, stub } = await startGroup(3, { group: name });
    await members[1].accuse(members[0].id, 1, 1); // rejected unless 1 happens to be 0's predecessor: logged either way
    await waitFor(async () => (await stub.snapshot()).recentAccusations.length > 0);
    const browser = await consoleLogin();
    const r = await call("GET", `/console/mesh/${group}`, { headers: { cookie: browser.cookie } });
    expect(r.status).toBe(200);
    for (const m of members) expect(r.body).toContain(m.id.slice(0, 16));
    expect(r.body).toContain("Certificate expires");
    expect(r.body).toContain("Recent accusations");
    expect(r.body).toMatch(/accepted|rejected: /);
    expect(r.body).toContain('id="mesh-live">3<');
    for (const m of members) m.close();
  });

  it("needs a console session, and 404s a malformed or unknown group name", async () => {
    const anon = await call("GET", "/console/mesh/demo");
    expect([302, 303]).toContain(anon.status);
    const anonList = await call("GET", "/console/mesh");
    expect([302, 303]).toContain(anonList.status);
    const browser = await consoleLogin();
    expect((await call("GET", "/console/mesh/bad%20name!", { headers: { cookie: browser.cookie } })).status).toBe(404);
    expect((await call("GET", "/console/mesh/no-such-group", { headers: { cookie: browser.cookie } })).status).toBe(404);
  });
});
