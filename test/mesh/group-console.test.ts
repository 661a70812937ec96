import { describe, expect, it } from "vitest";
import { call, consoleLogin } from "../console/helpers";
import { startGroup, waitFor } from "./members";

describe("console: /console/mesh/:group", () => {
  it("shows the group's members, live or removed, their certificates' expiry, and recent accusations", async () => {
    const { group, members, stub } = await startGroup(3);
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

  it("needs a console session and 404s a malformed group name", async () => {
    const anon = await call("GET", "/console/mesh/demo");
    expect([302, 303]).toContain(anon.status);
    const browser = await consoleLogin();
    expect((await call("GET", "/console/mesh/bad%20name!", { headers: { cookie: browser.cookie } })).status).toBe(404);
  });
});
