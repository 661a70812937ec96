import { describe, expect, it, vi } from "vitest";
import {
  assertIterationsAllowed,
  hashPassword,
  hashProbeSecret,
  isHighEntropySecret,
  MAX_PBKDF2_ITERATIONS,
  verifyPassword,
} from "../../functions/auth/passwords";
import { probeSecret } from "../helpers";

describe("password hashing", () => {
  it("never asks WebCrypto for more than the 100,000 PBKDF2 iterations production Workers allow", async () => {
    expect(MAX_PBKDF2_ITERATIONS).toBeLessThanOrEqual(100_000);
    const spy = vi.spyOn(crypto.subtle, "deriveBits");
    await hashPassword("an operator password");
    await hashProbeSecret("short");
    const stored = await hashPassword("pw");
    await verifyPassword("pw", stored);
    for (const call of spy.mock.calls) {
      expect((call[0] as { iterations: number }).iterations).toBeLessThanOrEqual(100_000);
    }
    expect(spy).toHaveBeenCalled();
    spy.mockRestore();
  });

  it("refuses to hash with more iterations than Workers allow", async () => {
    await expect(hashPassword("pw", 100_001)).rejects.toThrow(RangeError);
    expect(() => assertIterationsAllowed(600_000)).toThrow(/100000/);
  });

  it("a stored hash claiming more than the cap never verifies (it could not be checked in production)", async () => {
    const ok = await hashPassword("pw");
    const inflated = ok.replace("$100000$", "$200000$");
    expect(await verifyPassword("pw", inflated)).toBe(false);
  });

  it("operator passwords round-trip through salted PBKDF2-SHA256 with the count recorded", async () => {
    const h = await hashPassword("correct horse");
    expect(h).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(await verifyPassword("correct horse", h)).toBe(true);
    expect(await verifyPassword("correct horsE", h)).toBe(false);
    expect(await hashPassword("correct horse")).not.toBe(h); // salted
  });

  it("probe-cli's 64 random letters get the cheap salted SHA-256, short secrets still get PBKDF2", async () => {
    const secret = probeSecret();
    expect(isHighEntropySecret(secret)).toBe(true);
    const h = await hashProbeSecret(secret);
    expect(h).toMatch(/^sha256\$/);
    expect(await verifyPassword(secret, h)).toBe(true);
    expect(await verifyPassword(secret.slice(0, 63), h)).toBe(false);

    expect(isHighEntropySecret("hunter2")).toBe(false);
    expect(isHighEntropySecret("a".repeat(64))).toBe(false); // long but not random
    expect(await hashProbeSecret("hunter2")).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(await hashProbeSecret("a".repeat(64))).toMatch(/^pbkdf2-sha256\$/);
  });

  it("garbage in the stored hash never verifies and never throws", async () => {
    for (const junk of ["", "sha256$", "pbkdf2-sha256$x$y$z", "md5$abc$def", "sha256$!!!$???"]) {
      expect(await verifyPassword(probeSecret(), junk)).toBe(false);
    }
  });
});
