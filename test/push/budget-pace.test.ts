import { describe, expect, it } from "vitest";
import { budgetAllows, budgetFor, DEFAULT_BUDGETS } from "../../functions/push/budget";
import { HOLD_MS, MIN_RATE_PER_MIN, newPace, onThrottle, recover, schedule } from "../../functions/push/pace";

const T = Date.parse("2026-11-24T12:00:00Z");
const min = 60_000;

describe("per-device push budget", () => {
  it("an iOS device gets at most 3 background pushes an hour, as Apple advises", () => {
    const ios = DEFAULT_BUDGETS.ios;
    expect(budgetAllows([], T, ios)).toEqual({ ok: true });
    expect(budgetAllows([T - 50 * min, T - 30 * min], T, ios)).toEqual({ ok: true });
    const v = budgetAllows([T - 50 * min, T - 30 * min, T - 10 * min], T, ios);
    expect(v).toEqual({ ok: false, window: "hour", sent: 3, limit: 3, freeAtMs: T + 10 * min });
    // pushes older than an hour no longer count
    expect(budgetAllows([T - 70 * min, T - 65 * min, T - 61 * min], T, ios)).toEqual({ ok: true });
  });

  it("a campaign firing every minute at one iOS device yields at most 3 pushes in any hour", () => {
    const sent: number[] = [];
    for (let m = 0; m < 180; m++) {
      const now = T + m * min;
      if (budgetAllows(sent, now, DEFAULT_BUDGETS.ios).ok) sent.push(now);
    }
    for (let m = 0; m < 180; m++) {
      const inHour = sent.filter((t) => t >= T + m * min && t < T + m * min + 60 * min);
      expect(inHour.length).toBeLessThanOrEqual(3);
    }
    expect(sent.length).toBe(9);
  });

  it("Android has a per-minute and a per-hour ceiling; desktop platforms have no push budget", () => {
    const a = DEFAULT_BUDGETS.android;
    const burst = Array.from({ length: a.perMinute }, (_, i) => T - i * 1000);
    expect(budgetAllows(burst, T, a)).toMatchObject({ ok: false, window: "minute" });
    expect(budgetFor("Android")).toEqual(a);
    expect(budgetFor("linux")).toBeNull();
    expect(budgetFor("ios", { ios: { perHour: 1, perMinute: 1 } })).toEqual({ perHour: 1, perMinute: 1 });
  });
});

describe("adaptive rollout pace", () => {
  it("spaces sends at the configured rate with no drift across pages", () => {
    const p = newPace(60, T);
    const a = schedule(p, 3, T);
    expect(a.times).toEqual([T, T + 1000, T + 2000]);
    const b = schedule(a.pace, 2, T);
    expect(b.times).toEqual([T + 3000, T + 4000]);
  });

  it("a 429 halves the rate once per burst and honours Retry-After", () => {
    let p = newPace(600, T);
    p = onThrottle(p, T, 30_000);
    expect(p.current).toBe(300);
    expect(p.cursorMs).toBe(T + 30_000);
    p = onThrottle(p, T + 1000); // same burst
    expect(p.current).toBe(300);
    p = onThrottle(p, T + HOLD_MS + 1);
    expect(p.current).toBe(150);
    expect(schedule(p, 1, T).times[0]).toBeGreaterThanOrEqual(T + 30_000);
  });

  it("never drops below a floor, so a throttled campaign still finishes", () => {
    let p = newPace(10, T);
    for (let i = 0; i < 10; i++) p = onThrottle(p, T + i * (HOLD_MS + 1));
    expect(p.current).toBe(MIN_RATE_PER_MIN);
  });

  it("recovers by a quarter of the configured rate per quiet minute, back to exactly the configured rate", () => {
    let p = onThrottle(newPace(400, T), T); // 200
    p = recover(p, T + 30_000);
    expect(p.current).toBe(200);
    p = recover(p, T + min);
    expect(p.current).toBe(300);
    p = recover(p, T + 2 * min);
    expect(p.current).toBe(400);
    expect(p.cutAtMs).toBeNull();
  });

  it("an unlimited campaign that gets throttled becomes paced, then unlimited again once quiet", () => {
    let p = newPace(null, T);
    expect(schedule(p, 3, T).times).toEqual([T, T, T]);
    p = onThrottle(p, T);
    expect(p.current).toBe(3000);
    p = recover(p, T + 10 * min);
    expect(p.current).toBeNull();
  });
});
