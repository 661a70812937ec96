import { describe, expect, it } from "vitest";
import { pushesPerHour } from "../../functions/console/lib/aggregate";
import { campaignFieldErrors, campaignFormFrom, formFromJob, jobBodyFromForm, taskSummary } from "../../functions/console/lib/campaign-form";
import { stackedLayout } from "../../functions/console/lib/charts";
import { describeCron, describePeriod, schedulePreview } from "../../functions/console/lib/schedule-text";
import { JobBody } from "../../schema/campaigns-api";

const NOW = Date.parse("2026-11-24T10:17:30Z");

describe("schedule preview", () => {
  it("spells out ISO 8601 periods", () => {
    expect(describePeriod("P1D")).toBe("1 day");
    expect(describePeriod("PT15M")).toBe("15 minutes");
    expect(describePeriod("P1Y2M3DT4H5M6S")).toBe("1 year 2 months 3 days 4 hours 5 minutes 6 seconds");
    expect(describePeriod("P1.5W")).toBe("1.5 weeks");
  });

  it("describes an ISO repeating interval and lists its next runs from the anchor (no drift)", () => {
    const p = schedulePreview("R/2017-05-01T00:00:00Z/P1D", NOW, 3);
    expect(p).toEqual({
      ok: true,
      kind: "iso",
      text: "Every day, forever, from 2017-05-01 00:00 UTC",
      next: ["2026-11-25T00:00:00.000Z", "2026-11-26T00:00:00.000Z", "2026-11-27T00:00:00.000Z"],
      finite: false,
    });
    const five = schedulePreview("R5//PT1H", NOW);
    expect(five.ok && five.text).toBe("Every hour, 5 times, starting when it is created");
    expect(five.ok && five.next).toHaveLength(5);
    expect(five.ok && five.next[0]).toBe(new Date(NOW).toISOString());
    expect(schedulePreview("R1//PT1M", NOW)).toMatchObject({ ok: true, text: "Once, when it is created", finite: true });
    expect(schedulePreview("R1/2030-01-01T12:00:00Z/P1D", NOW)).toMatchObject({ ok: true, text: "Once, at 2030-01-01 12:00 UTC" });
    // A finished schedule parses but has nothing left: the form says so (the API refuses to create it).
    expect(schedulePreview("R2/2017-05-01T00:00:00Z/P1D", NOW)).toMatchObject({ ok: true, next: [] });
  });

  it("describes common cron shapes in words, in UTC", () => {
    expect(describeCron("* * * * *")).toBe("Every minute");
    expect(describeCron("*/15 * * * *")).toBe("Every 15 minutes");
    expect(describeCron("5 * * * *")).toBe("Every hour at minute 5");
    expect(describeCron("0 */6 * * *")).toBe("Every 6 hours at minute 0 (UTC)");
    expect(describeCron("30 3 * * *")).toBe("Every day at 03:30 UTC");
    expect(describeCron("@daily")).toBe("Every day at 00:00 UTC");
    expect(describeCron("0 9 * * MON,thu")).toBe("Every Monday, Thursday at 09:00 UTC");
    expect(describeCron("0 9 * * 1-5")).toBe("Every weekday (Monday to Friday) at 09:00 UTC");
    expect(describeCron("0 0 1 * *")).toBe("On day 1 of every month at 00:00 UTC");
    expect(describeCron("0 0 1-7 1 *")).toBe("At minute 0, hour 0, day-of-month 1-7, month 1, day-of-week * (UTC)");
    const p = schedulePreview("*/15 * * * *", NOW, 2);
    expect(p).toMatchObject({ ok: true, kind: "cron", next: ["2026-11-24T10:30:00.000Z", "2026-11-24T10:45:00.000Z"] });
  });

  it("an invalid schedule gives the parser's own message (the one the API answers with)", () => {
    expect(schedulePreview("every day", NOW)).toEqual({ ok: false, error: expect.stringContaining("expected 5 fields") });
    expect(schedulePreview("R/2017-02-30T00:00:00Z/P1D", NOW)).toEqual({ ok: false, error: expect.stringContaining("no such date") });
    expect(schedulePreview("R//PT10S", NOW)).toEqual({ ok: false, error: expect.stringContaining("at least one minute") });
  });
});

describe("campaign form ⇄ API body", () => {
  const posted = {
    kind: "task",
    comment: "daily wc",
    schedule: "R/2017-05-01T00:00:00Z/P1D",
    delay: "30",
    test_name: "web_connectivity",
    arguments: '{"urls": ["https://example.org"]}',
    countries: ["IT", "GR"],
    asns: "AS1",
    asns_other: "AS2, AS3 AS1",
    platforms: ["android"],
    rollout_per_minute: "",
    starting_deadline_s: "abc",
    intent: "create",
    _csrf: "x",
  };

  it("reads scalars and repeated values, merges the free-text ASNs, drops what is not a field", () => {
    const f = campaignFormFrom(posted);
    expect(f.countries).toEqual(["IT", "GR"]);
    expect(f.asns).toEqual(["AS1", "AS2", "AS3"]);
    expect(f.network_types).toEqual([]);
    expect(f).not.toHaveProperty("intent");
    expect(f).not.toHaveProperty("_csrf");
  });

  it("builds the job body: numbers as numbers, blanks left to the API's defaults, JSON parsed, alert or task", () => {
    const { body, errors } = jobBodyFromForm(campaignFormFrom(posted));
    expect(errors).toEqual({});
    expect(body).toEqual({
      schedule: "R/2017-05-01T00:00:00Z/P1D",
      comment: "daily wc",
      delay: 30,
      starting_deadline_s: "abc", // not a number: passed as typed so the API's message lands next to the field
      task: { test_name: "web_connectivity", arguments: { urls: ["https://example.org"] } },
      target: { countries: ["IT", "GR"], asns: ["AS1", "AS2", "AS3"], platforms: ["android"], network_types: [], software_names: [], supported_tests: [] },
    });
    const bad = JobBody.safeParse(body);
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join("."))).toEqual(["starting_deadline_s"]);
    const alert = jobBodyFromForm({ kind: "alert", comment: "c", schedule: "R1//PT1M", alert_message: "hello", alert_extra: "" }).body;
    expect(alert.alert).toEqual({ message: "hello", extra: {} });
    expect(alert).not.toHaveProperty("task");
    expect(JobBody.safeParse(alert).success).toBe(true);
  });

  it("unparseable or non-object JSON is the form's own error", () => {
    expect(jobBodyFromForm({ kind: "task", arguments: "{nope" }).errors.arguments[0]).toMatch(/not valid JSON/);
    expect(jobBodyFromForm({ kind: "alert", alert_extra: "[1]" }).errors.alert_extra[0]).toMatch(/must be a JSON object/);
  });

  it("maps the API's error paths to the form's fields, naming the list item", () => {
    expect(
      campaignFieldErrors([
        { path: "schedule", message: "bad" },
        { path: "task.test_name", message: "t" },
        { path: "task", message: "task or alert must be defined" },
        { path: "alert.message", message: "m" },
        { path: "target.countries.1", message: "must be a two-letter country code" },
        { path: "rollout_per_minute", message: "r" },
        { path: "(body)", message: "b" },
      ]),
    ).toEqual({
      schedule: ["bad"],
      test_name: ["t", "task or alert must be defined"],
      alert_message: ["m"],
      countries: ["item 2: must be a two-letter country code"],
      rollout_per_minute: ["r"],
      "": ["b"],
    });
  });

  it("a stored job reads back as the same form", () => {
    const { body } = jobBodyFromForm(campaignFormFrom(posted));
    const parsed = JobBody.parse({ ...body, starting_deadline_s: 900 });
    const back = formFromJob({ ...parsed, task: parsed.task!, alert: null, rollout_per_minute: null } as never);
    expect(jobBodyFromForm(back).body).toMatchObject({ ...body, starting_deadline_s: 900 });
  });

  it("summarises task counts by state", () => {
    expect(taskSummary({})).toEqual({ total: 0, text: "no tasks yet" });
    expect(taskSummary({ ready: 2, notified: 1, accepted: 1, done: 4, expired: 1, failed: 2 })).toEqual({
      total: 11,
      text: "3 open, 1 accepted, 4 done, 3 expired or failed",
    });
  });
});

describe("stacked charts and pushes per hour", () => {
  it("stacks segments bottom-up in key order on a round axis; empty keys draw nothing", () => {
    const l = stackedLayout(
      [
        { label: "a", values: { x: 2, y: 3 } },
        { label: "b", values: { y: 1 } },
      ],
      ["x", "y"],
    );
    expect(l.max).toBe(5);
    const [a, b] = l.stacked;
    expect(a.total).toBe(5);
    expect(a.segments.map((s) => s.key)).toEqual(["x", "y"]);
    const bottom = l.plot.y + l.plot.h;
    expect(a.segments[0].y + a.segments[0].h).toBeCloseTo(bottom, 1);
    expect(a.segments[1].y + a.segments[1].h).toBeCloseTo(a.segments[0].y, 1);
    expect(a.segments[1].y).toBeCloseTo(l.plot.y, 1); // the tallest column reaches the top of a 5 axis
    expect(b.segments).toEqual([expect.objectContaining({ key: "y", value: 1 })]);
  });

  it("buckets push events into the 24 UTC hours ending now, zero-filled, by outcome", () => {
    const now = new Date("2026-11-24T10:17:00Z");
    const s = pushesPerHour(
      [
        { hour: "2026-11-24T10", type: "push.sent", n: 3 },
        { hour: "2026-11-24T10", type: "push.retry", n: 1 },
        { hour: "2026-11-23T11", type: "push.deferred", n: 2 },
        { hour: "2026-11-23T10", type: "push.sent", n: 9 }, // 24 h ago: outside the window
        { hour: "2026-11-24T09", type: "push.unknown", n: 5 },
      ],
      now,
    );
    expect(s).toHaveLength(24);
    expect(s[0]).toEqual({ label: "11:00", values: { deferred: 2 } });
    expect(s[23]).toEqual({ label: "10:00", values: { sent: 3, retried: 1 } });
    expect(s[22]).toEqual({ label: "09:00", values: {} });
  });
});
