import { describe, expect, it } from "vitest";
import { activationSerial, leaseState, normalisePubkey, stampOf } from "../../functions/school/registration";
import { sshKey } from "./helpers";

const S = { jabberServer: "schoolserver", backupUrlTemplate: "backup@schoolserver:{uid}/", backupPathTemplate: "/library/users/{uid}" };

describe("normalisePubkey", () => {
  it("stores a DSA key the same with or without its ssh-dss prefix, and without a comment", () => {
    const blob = sshKey("ssh-dss");
    const want = { ok: true, pubkey: `ssh-dss ${blob}` };
    expect(normalisePubkey(blob)).toEqual(want);
    expect(normalisePubkey(`ssh-dss ${blob}`)).toEqual(want);
    expect(normalisePubkey(`  ssh-dss ${blob} olpc@xo-12-34-56\n`)).toEqual(want);
  });

  it("refuses garbage, a blob that names no key type, and a prefix that contradicts the blob", () => {
    expect(normalisePubkey("not a key!").ok).toBe(false);
    expect(normalisePubkey(btoa("hello world!")).ok).toBe(false);
    expect(normalisePubkey(`ssh-rsa ${sshKey("ssh-dss")}`).ok).toBe(false);
    expect(normalisePubkey(`ssh-ed25519 ${sshKey("ssh-ed25519")}`).ok).toBe(true);
  });
});

describe("stampOf", () => {
  it("changes with the epoch and with any setting a client was told, and only then", () => {
    const a = stampOf(0, S);
    expect(stampOf(0, { ...S })).toBe(a);
    expect(stampOf(1, S)).not.toBe(a);
    expect(stampOf(0, { ...S, jabberServer: "jabber.school.example" })).not.toBe(a);
    expect(stampOf(0, { ...S, backupUrlTemplate: "b@x:{uid}" })).not.toBe(a);
  });
});

describe("activationSerial", () => {
  it("takes the serial a data line starts with, upper-cased", () => {
    expect(activationSerial("SHC005007B7\n")).toBe("SHC005007B7");
    expect(activationSerial("shc005007b7 extra data\r\n")).toBe("SHC005007B7");
    expect(activationSerial("SHC005007B7")).toBe("SHC005007B7");
  });

  it("finds none in an empty body, a short or long token, or garbage", () => {
    for (const b of ["", "\n", "SHC0050", "SHC005007B7X", "?? SHC005007B7", "\u0000\u0001"]) expect(activationSerial(b)).toBeNull();
  });
});

describe("leaseState", () => {
  const now = new Date("2026-03-01T00:00:00Z");
  it("is none, valid, renewing (inside the renewal window) or expired", () => {
    expect(leaseState(null, now, 86_400)).toBe("none");
    expect(leaseState("2026-03-10T00:00:00Z", now, 86_400)).toBe("valid");
    expect(leaseState("2026-03-01T12:00:00Z", now, 86_400)).toBe("renewing");
    expect(leaseState("2026-02-28T00:00:00Z", now, 86_400)).toBe("expired");
  });
});
