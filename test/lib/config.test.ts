import { describe, expect, it } from "vitest";
import { z } from "zod";
import { cachedSettings, readBool, readInt, readJson, readSecret, readString, readUrl } from "../../functions/lib/config";
import { ApiError } from "../../functions/lib/errors";

const misconfigured = (f: () => unknown, message: RegExp) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe("misconfigured");
    expect((e as ApiError).status).toBe(503);
    expect((e as ApiError).message).toMatch(message);
    return;
  }
  throw new Error("expected a misconfigured error");
};

describe("settings dialect (functions/lib/config.ts)", () => {
  it("an unset or empty variable takes the documented default", () => {
    expect(readInt({}, "N", { fallback: 5, min: 1, max: 9 })).toBe(5);
    expect(readInt({ N: "" }, "N", { fallback: 5, min: 1, max: 9 })).toBe(5);
    expect(readBool({}, "B", true)).toBe(true);
    expect(readString({}, "S", "x")).toBe("x");
    expect(readUrl({}, "U")).toBeNull();
    expect(readUrl({}, "U", "https://a.example/")).toBe("https://a.example");
    expect(readJson({}, "J", z.array(z.string()), ["a"])).toEqual(["a"]);
    expect(readSecret({}, "K", { minLength: 8 })).toBeNull();
  });

  it("integers outside their bounds, or not integers at all, are a misconfiguration naming the variable", () => {
    expect(readInt({ N: "7" }, "N", { fallback: 5, min: 1, max: 9 })).toBe(7);
    misconfigured(() => readInt({ N: "10" }, "N", { fallback: 5, min: 1, max: 9 }), /setting N must be an integer in 1\.\.9/);
    misconfigured(() => readInt({ N: "0" }, "N", { fallback: 5, min: 1, max: 9 }), /N/);
    misconfigured(() => readInt({ N: "2.5" }, "N", { fallback: 5, min: 1, max: 9 }), /N/);
    misconfigured(() => readInt({ N: "1e3" }, "N", { fallback: 5, min: 1, max: 9999 }), /N/);
  });

  it("booleans accept on/off, true/false, 1/0 and nothing else", () => {
    for (const [v, want] of [
      ["on", true],
      ["OFF", false],
      ["true", true],
      ["0", false],
    ] as const)
      expect(readBool({ B: v }, "B", !want)).toBe(want);
    misconfigured(() => readBool({ B: "yes" }, "B", true), /setting B must be "on" or "off"/);
  });

  it("URLs must be absolute http(s); trailing slashes are dropped", () => {
    expect(readUrl({ U: "http://127.0.0.1:8088//" }, "U")).toBe("http://127.0.0.1:8088");
    misconfigured(() => readUrl({ U: "not a url" }, "U"), /setting U must be an absolute URL/);
    misconfigured(() => readUrl({ U: "ftp://x.example" }, "U"), /http\(s\)/);
  });

  it("JSON is parsed and checked against its schema", () => {
    expect(readJson({ J: '["x","y"]' }, "J", z.array(z.string()), [])).toEqual(["x", "y"]);
    misconfigured(() => readJson({ J: "{" }, "J", z.array(z.string()), []), /setting J must be JSON/);
    misconfigured(() => readJson({ J: "[1]" }, "J", z.array(z.string()), []), /documented shape/);
  });

  it("a required secret that is missing or short is a misconfiguration; the message never contains the secret", () => {
    expect(readSecret({ K: "0123456789" }, "K", { minLength: 8, required: true })).toBe("0123456789");
    misconfigured(() => readSecret({}, "K", { minLength: 8, required: true }), /setting K is not set/);
    try {
      readSecret({ K: "hunter2" }, "K", { minLength: 8, required: true });
    } catch (e) {
      expect((e as Error).message).toBe("setting K must be at least 8 characters");
    }
  });

  it("a surface's settings are built once per env object", () => {
    let builds = 0;
    const settings = cachedSettings(() => ({ n: ++builds }));
    const env = {} as Env;
    expect(settings(env)).toBe(settings(env));
    expect(builds).toBe(1);
    settings({} as Env);
    expect(builds).toBe(2);
  });
});
