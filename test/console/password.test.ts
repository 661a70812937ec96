import { describe, expect, it } from "vitest";
import { createOperator } from "../helpers";
import { consoleLogin, get, post } from "./helpers";

describe("the console's own-password form", () => {
  it("a wrong current password shows next to the field and keeps the session; a change ends the session and the new password logs in", async () => {
    const op = await createOperator("viewer");
    const b = await consoleLogin(op.username, op.password);
    const page = await get(b, "/console/operators");
    expect(page.body).toContain('action="/console/password"');
    const wrong = await post(b, "/console/password", { current_password: "not the password", new_password: "a brand new passphrase" });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatch(/id="f-current_password-error"[^>]*>.*current password is wrong/);
    expect(wrong.body).not.toContain("a brand new passphrase");
    const weak = await post(b, "/console/password", { current_password: op.password, new_password: "short" });
    expect(weak.status).toBe(400);
    expect(weak.body).toMatch(/id="f-new_password-error"[^>]*>.*at least 12 characters/);
    const ok = await post(b, "/console/password", { current_password: op.password, new_password: "a brand new passphrase" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/console/login?reason=password-changed");
    // The old session cookie no longer opens the console, even if the browser kept it.
    const after = await get(b, "/console/operators");
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toMatch(/^\/console\/login/);
    await expect(consoleLogin(op.username, op.password)).rejects.toThrow();
    const again = await consoleLogin(op.username, "a brand new passphrase");
    expect((await get(again, "/console/operators")).status).toBe(200);
  });

  it("the bootstrap admin sees that its password is the ADMIN_PASSWORD setting, and no form", async () => {
    const b = await consoleLogin();
    const page = await get(b, "/console/operators");
    expect(page.body).toContain("ADMIN_PASSWORD setting");
    expect(page.body).not.toContain('action="/console/password"');
  });
});
