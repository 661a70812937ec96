import { describe, expect, it } from "vitest";
import { cronAtOrAfter, isoRunAt, parseCronSpec, parsePeriod, parseSchedule, planDue, ScheduleError, upcoming } from "../../functions/campaigns/schedule";

const T = (s: string) => Date.parse(s);
const iso = (ms: number) => new Date(ms).toISOString();
const NOW = T("2026-03-10T10:00:00Z");
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

describe("ISO 8601 repeating intervals, as OONI wrote them", () => {
  it("R/2017-05-01T00:00:00Z/P1D repeats forever from its anchor", () => {
    const s = parseSchedule("R/2017-05-01T00:00:00Z/P1D", NOW);
    expect(s.repeat).toBeNull();
    expect(upcoming(s, T("2017-04-01T00:00:00Z"), 3).map(iso)).toEqual(["2017-05-01T00:00:00.000Z", "2017-05-02T00:00:00.000Z", "2017-05-03T00:00:00.000Z"]);
    expect(iso(s.slotAtOrAfter(NOW)!.at)).toBe("2026-03-11T00:00:00.000Z");
  });

  it("R5//PT1H: empty start means now, and exactly five runs", () => {
    const s = parseSchedule("R5//PT1H", NOW);
    expect(s.startMs).toBe(NOW);
    const runs = upcoming(s, 0, 100);
    expect(runs).toEqual([0, 1, 2, 3, 4].map((k) => NOW + k * HOUR));
    expect(s.slotAtOrAfter(NOW + 4 * HOUR + 1)).toBeNull();
  });

  it("accepts OONI's own test schedules, fractional durations and fractional seconds", () => {
    const a = parseSchedule("R42/2018-12-16T16:20:30Z/P1.3WT2M", NOW);
    expect(a.repeat).toBe(42);
    expect(isoRunAt(a.startMs, parsePeriod("P1.3WT2M"), 1) - a.startMs).toBe(Math.round(1.3 * 7 * DAY) + 2 * MIN);
    expect(parseSchedule("R/2018-12-16T16:20:30Z/PT2M", NOW).slotAtOrAfter(NOW)!.at % MIN).toBe(30_000);
    expect(parseSchedule("R1/2026-07-10T12:00:00.000Z/P1D", NOW).startMs).toBe(T("2026-07-10T12:00:00Z"));
    expect(parsePeriod("P0.5D").fixedMs).toBe(DAY / 2);
    expect(parsePeriod("P1Y").fixedMs).toBe(365 * DAY);
    expect(parseSchedule("R1/2026-07-10T12:00:00Z/P", NOW).slotAtOrAfter(NOW)!.at).toBe(T("2026-07-10T12:00:00Z"));
  });

  it("run k is start + k·period from the anchor: no drift over a thousand runs, whatever the firing time", () => {
    const s = parseSchedule("R/2026-01-01T00:00:07Z/PT7M", NOW);
    const k1000 = T("2026-01-01T00:00:07Z") + 1000 * 7 * MIN;
    // Even if run 999 actually fired 40 s late, the next slot is still on the grid.
    expect(s.slotAtOrAfter(k1000 - 7 * MIN + 40_000)!.at).toBe(k1000);
    expect(s.slotAtOrAfter(k1000)!.index).toBe(1000);
  });

  it("months are calendar months from the anchor, clamped to the month's end, without cumulative drift", () => {
    const s = parseSchedule("R/2026-01-31T09:00:00Z/P1M", NOW);
    expect(upcoming(s, 0, 4).map(iso)).toEqual([
      "2026-01-31T09:00:00.000Z",
      "2026-02-28T09:00:00.000Z",
      "2026-03-31T09:00:00.000Z",
      "2026-04-30T09:00:00.000Z",
    ]);
  });

  it.each([
    ["R/2017-05-01T00:00:00Z", /expected R\[n\]/],
    ["X/2017-05-01T00:00:00Z/P1D", /repetition/],
    ["R0/2017-05-01T00:00:00Z/P1D", /between 1/],
    ["R/2017-13-01T00:00:00Z/P1D", /no such date|invalid start/],
    ["R/2017-02-30T00:00:00Z/P1D", /no such date/],
    ["R/2017-05-01 00:00:00/P1D", /invalid start/],
    ["R/2017-05-01T00:00:00Z/1D", /duration/],
    ["R/2017-05-01T00:00:00Z/PT", /nothing after T/],
    ["R/2017-05-01T00:00:00Z/PT30S", /at least one minute/],
    ["R/2017-05-01T00:00:00Z/P", /at least one minute/],
  ])("refuses %s", (src, msg) => {
    expect(() => parseSchedule(src, NOW)).toThrow(ScheduleError);
    expect(() => parseSchedule(src, NOW)).toThrow(msg);
  });
});

describe("5-field cron, UTC", () => {
  const next = (expr: string, from: string) => iso(cronAtOrAfter(parseCronSpec(expr), T(from))!);

  it("steps, ranges, lists and names", () => {
    expect(next("*/15 * * * *", "2026-03-10T10:01:00Z")).toBe("2026-03-10T10:15:00.000Z");
    expect(next("0 9-17/4 * * *", "2026-03-10T10:00:00Z")).toBe("2026-03-10T13:00:00.000Z");
    expect(next("30 2 * * MON,FRI", "2026-03-10T10:00:00Z")).toBe("2026-03-13T02:30:00.000Z"); // Tue → Fri
    expect(next("0 0 1 JAN *", "2026-03-10T10:00:00Z")).toBe("2027-01-01T00:00:00.000Z");
    expect(next("0 0 * * 7", "2026-03-10T10:00:00Z")).toBe("2026-03-15T00:00:00.000Z"); // 7 = Sunday
    expect(next("@hourly", "2026-03-10T10:00:01Z")).toBe("2026-03-10T11:00:00.000Z");
  });

  it("a time exactly on the schedule is itself a run; seconds round up to the next minute", () => {
    expect(next("0 10 * * *", "2026-03-10T10:00:00Z")).toBe("2026-03-10T10:00:00.000Z");
    expect(next("* * * * *", "2026-03-10T10:00:00.001Z")).toBe("2026-03-10T10:01:00.000Z");
  });

  it("day-of-month and day-of-week both restricted: either matches (Vixie cron)", () => {
    expect(next("0 0 13 * FRI", "2026-03-10T10:00:00Z")).toBe("2026-03-13T00:00:00.000Z");
    expect(next("0 0 11 * SUN", "2026-03-10T10:00:00Z")).toBe("2026-03-11T00:00:00.000Z");
  });

  it.each([["* * * *"], ["60 * * * *"], ["* 24 * * *"], ["* * 0 * *"], ["* * * 13 *"], ["5-1 * * * *"], ["*/0 * * * *"], ["0 0 30 2 *"], ["a b c d e"]])(
    "refuses %s",
    (src) => expect(() => parseSchedule(src, NOW)).toThrow(ScheduleError),
  );
});

describe("due runs and missed runs", () => {
  const hourly = parseSchedule("R/2026-03-10T00:00:00Z/PT1H", NOW);

  it("a run due now fires, and the next run is the following slot", () => {
    const p = planDue(hourly, T("2026-03-10T10:00:00Z"), T("2026-03-10T10:00:30Z"), 900_000);
    expect(p.fire!.at).toBe(T("2026-03-10T10:00:00Z"));
    expect(p.missed.count).toBe(0);
    expect(iso(p.next!.at)).toBe("2026-03-10T11:00:00.000Z");
  });

  it("nothing is due before the stored next run", () => {
    const p = planDue(hourly, T("2026-03-10T11:00:00Z"), T("2026-03-10T10:59:59Z"), 900_000);
    expect(p.fire).toBeNull();
    expect(p.missed.count).toBe(0);
  });

  it("after a long outage only the latest run fires (within the deadline), the others are recorded as one missed entry", () => {
    // Down from 03:00 to 10:05: runs 03:00..09:00 are missed, 10:00 is 5 min late and within a 15-min deadline.
    const p = planDue(hourly, T("2026-03-10T03:00:00Z"), T("2026-03-10T10:05:00Z"), 900_000);
    expect(iso(p.fire!.at)).toBe("2026-03-10T10:00:00.000Z");
    expect(p.missed).toEqual({ count: 7, capped: false, first: T("2026-03-10T03:00:00Z"), last: T("2026-03-10T09:00:00Z") });
    expect(iso(p.next!.at)).toBe("2026-03-10T11:00:00.000Z");
  });

  it("a run later than its starting deadline is skipped and recorded, not fired", () => {
    const p = planDue(hourly, T("2026-03-10T10:00:00Z"), T("2026-03-10T10:20:00Z"), 900_000);
    expect(p.fire).toBeNull();
    expect(p.missed.count).toBe(1);
    expect(iso(p.next!.at)).toBe("2026-03-10T11:00:00.000Z");
  });

  it("bounded repeats end: the last run fires and no next run is left", () => {
    const s = parseSchedule("R2/2026-03-10T09:00:00Z/PT1H", NOW);
    const p = planDue(s, T("2026-03-10T10:00:00Z"), T("2026-03-10T10:00:10Z"), 900_000);
    expect(p.fire!.index).toBe(1);
    expect(p.next).toBeNull();
  });

  it("a per-minute cron down for a week fires once and caps its missed count", () => {
    const s = parseSchedule("* * * * *", NOW);
    const p = planDue(s, NOW - 7 * DAY, NOW, 300_000);
    expect(p.fire!.at).toBe(NOW);
    expect(p.missed.capped).toBe(true);
    expect(p.missed.count).toBe(1000);
    expect(p.next!.at).toBe(NOW + MIN);
  });
});
