/** The one clock. Everything that needs "now" takes a Clock, so pure logic is testable with a fixed time. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export function fixedClock(at: Date | string): Clock {
  const t = typeof at === "string" ? new Date(at) : at;
  return { now: () => new Date(t.getTime()) };
}

/** RFC 3339 UTC with second precision, as OONI clients parse it (`2006-01-02T15:04:05Z`). */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
