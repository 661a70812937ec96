import { describe, expect, it } from "vitest";
import { cumulative, fillDays, PUSH_OUTCOMES, pushesPerHour, pushOutcomes, seriesOutcomes, topN, windowStart } from "../../functions/console/lib/aggregate";
import { probeQueryInput, eventQueryInput, issuesByField } from "../../functions/console/lib/filters";
import { formatCount, relativeTime, utcMinute } from "../../functions/console/lib/format";
import { fieldErrors, queryString, safeNext, utcInput } from "../../functions/console/lib/forms";
import { ClientListQuery } from "../../schema/probes-api";

describe("aggregation for charts", () => {
  it("keeps the n largest categories, sums the rest into 'other', names null 'unknown'", () => {
    const rows = [
      { key: "IT", n: 5 },
      { key: "GR", n: 9 },
      { key: null, n: 2 },
      { key: "", n: 1 },
      { key: "DE", n: 5 },
      { key: "FR", n: 1 },
    ];
    expect(topN(rows, 3)).toEqual([
      { label: "GR", value: 9 },
      { label: "DE", value: 5 },
      { label: "IT", value: 5 },
      { label: "other (2)", value: 4 },
    ]);
    expect(topN(rows, 10).find((d) => d.label === "unknown")).toEqual({ label: "unknown", value: 3 });
    expect(topN([], 5)).toEqual([]);
  });

  it("fills a window of UTC days ending today, zero where nothing happened", () => {
    const now = new Date("2026-03-02T05:00:00Z");
    expect(windowStart(now, 3)).toBe("2026-02-28");
    expect(
      fillDays(
        [
          { day: "2026-03-01", n: 4 },
          { day: "2026-02-01", n: 99 },
        ],
        now,
        3,
      ),
    ).toEqual([
      { label: "2026-02-28", value: 0 },
      { label: "2026-03-01", value: 4 },
      { label: "2026-03-02", value: 0 },
    ]);
  });

  it("turns a daily series into a running total from a base", () => {
    expect(
      cumulative(
        [
          { label: "a", value: 1 },
          { label: "b", value: 0 },
          { label: "c", value: 2 },
        ],
        10,
      ).map((d) => d.value),
    ).toEqual([11, 11, 13]);
  });

  it("counts push outcomes from push.* events; unknown kinds are ignored", () => {
    expect(
      pushOutcomes([
        { type: "push.sent", n: 7 },
        { type: "push.failed", n: 2 },
        { type: "push.retry", n: 1 },
        { type: "push.skipped", n: 3 },
        { type: "push.other", n: 50 },
      ]),
    ).toEqual({ sent: 7, failed: 2, deferred: 0, retried: 1, skipped: 3 });
  });
});

describe("push outcomes with accepted", () => {
  it("counts push.accepted as its own outcome, listed after sent only when it occurred", () => {
    const out = pushOutcomes([
      { type: "push.sent", n: 1 },
      { type: "push.accepted", n: 4 },
      { type: "push.accepted", n: 2 },
    ]);
    expect(out).toEqual({ sent: 1, accepted: 6, deferred: 0, retried: 0, skipped: 0, failed: 0 });
    expect(Object.keys(out)).toEqual(["sent", "accepted", "deferred", "retried", "skipped", "failed"]);
    expect(pushOutcomes([{ type: "push.accepted", n: 0 }])).not.toHaveProperty("accepted");
  });
  it("lists accepted for a series of hours only if some hour has it, and places it in the hour's counts", () => {
    const now = new Date("2026-11-24T12:30:00Z");
    const none = pushesPerHour([{ hour: "2026-11-24T12", type: "push.sent", n: 1 }], now, 2);
    expect(seriesOutcomes(none)).toEqual(["sent", "deferred", "retried", "skipped", "failed"]);
    const some = pushesPerHour(
      [
        { hour: "2026-11-24T11", type: "push.accepted", n: 5 },
        { hour: "2026-11-24T12", type: "push.sent", n: 1 },
      ],
      now,
      2,
    );
    expect(some[0]).toEqual({ label: "11:00", values: { accepted: 5 } });
    expect(seriesOutcomes(some)).toEqual(["sent", "accepted", "deferred", "retried", "skipped", "failed"]);
    expect(PUSH_OUTCOMES).toContain("accepted");
  });
});

describe("formatting", () => {
  const now = new Date("2026-11-24T12:00:00Z");
  it("says how long ago, then falls back to the date", () => {
    expect(relativeTime("2026-11-24T11:59:50Z", now)).toBe("just now");
    expect(relativeTime("2026-11-24T11:55:00Z", now)).toBe("5 min ago");
    expect(relativeTime("2026-11-24T09:00:00Z", now)).toBe("3 h ago");
    expect(relativeTime("2026-11-23T12:00:00Z", now)).toBe("1 day ago");
    expect(relativeTime("2026-11-26T12:00:00Z", now)).toBe("in 2 days");
    expect(relativeTime("2020-01-01T00:00:00Z", now)).toBe("2020-01-01");
    expect(relativeTime("garbage", now)).toBe("garbage");
  });
  it("formats counts and minutes", () => {
    expect(formatCount(10000)).toBe("10,000");
    expect(utcMinute("2026-11-24T22:42:13.123Z")).toBe("2026-11-24 22:42 UTC");
  });
});

describe("forms", () => {
  it("maps the API's details to fields; nested paths to their field; the rest to the form", () => {
    const details = [
      { path: "username", message: "too short" },
      { path: "target.countries.0", message: "must be a two-letter country code" },
      { path: "schedule", message: "bad" },
      { path: "(body)", message: "expected an object" },
    ];
    expect(fieldErrors(details, ["username", "target", "schedule"])).toEqual({
      username: ["too short"],
      target: ["must be a two-letter country code"],
      schedule: ["bad"],
      "": ["expected an object"],
    });
    expect(fieldErrors(details, ["target.countries.0"])["target.countries.0"]).toEqual(["must be a two-letter country code"]);
    expect(fieldErrors(undefined)).toEqual({});
  });

  it("redirects only within the console", () => {
    expect(safeNext("/console/probes?x=1")).toBe("/console/probes?x=1");
    expect(safeNext("/console")).toBe("/console");
    for (const bad of [undefined, "", "https://evil.example", "//evil.example", "/consoleevil", "/console//evil", "/console\\evil", "/api/v1", "/console\n"]) {
      expect(safeNext(bad), String(bad)).toBe("/console");
    }
  });

  it("builds query strings without empty values and reads datetime-local as UTC", () => {
    expect(queryString({ a: "1", b: "", c: undefined, d: "x y" })).toBe("?a=1&d=x+y");
    expect(queryString({})).toBe("");
    expect(utcInput("2026-11-24T10:30")).toBe("2026-11-24T10:30:00Z");
    expect(utcInput("2026-11-24T10:30:05")).toBe("2026-11-24T10:30:05Z");
    expect(utcInput("2026-11-24T10:30:05+02:00")).toBe("2026-11-24T10:30:05+02:00");
    expect(utcInput("")).toBeUndefined();
  });

  it("turns the probes filter form into the API's query, with last-seen windows relative to now", () => {
    const now = new Date("2026-11-24T12:00:00Z");
    const { input, errors } = probeQueryInput({ country: " it,gr ", seen: "24h", token_state: "" }, now);
    expect(errors).toEqual({});
    expect(input).toEqual({ country: "it,gr", last_seen_after: "2026-11-23T12:00:00.000Z", limit: "50" });
    const q = ClientListQuery.parse(input);
    expect(q.country).toEqual(["IT", "GR"]);
    expect(probeQueryInput({ seen: "stale30d" }, now).input.last_seen_before).toBe("2026-10-25T12:00:00.000Z");
    expect(probeQueryInput({ seen: "forever" }, now).errors.seen).toBeDefined();
    const bad = ClientListQuery.safeParse({ country: "Italy", last_seen_after: "x" });
    expect(Object.keys(issuesByField(bad.error!, { last_seen_after: "seen" })).sort()).toEqual(["country", "seen"]);
  });

  it("turns the events filter form into the API's query", () => {
    expect(eventQueryInput({ type: "push.*", since: "2026-11-24T10:00", until: "" })).toEqual({ type: "push.*", since: "2026-11-24T10:00:00Z", limit: "50" });
  });
});
