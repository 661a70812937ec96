/**
 * Schedule arithmetic, pure (no bindings, no "now" except what the caller passes).
 *
 * Two syntaxes:
 * - ISO 8601 repeating intervals as OONI Orchestra wrote them: `R[n]/<start>/<period>`. `R` alone repeats forever,
 *   an empty start means "now". Run k is at start + k·period, computed from the anchor every time (no drift; OONI
 *   added the period to the actual run time and drifted).
 * - 5-field cron (minute hour day-of-month month day-of-week), UTC, with lists, ranges, steps and names.
 */

export type Slot = { at: number; index: number | null };

export type Schedule = {
  kind: "iso" | "cron";
  source: string;
  /** Number of runs for ISO `Rn`; null = forever. */
  repeat: number | null;
  /** ISO anchor (ms); for cron, the creation time. */
  startMs: number;
  /** The first run at or after t (ms), or null when the schedule has no more runs. */
  slotAtOrAfter(t: number): Slot | null;
};

export class ScheduleError extends Error {}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** The cron trigger fires every minute: a shorter period could not be honoured. */
export const MIN_PERIOD_MS = MINUTE;

// ---------------------------------------------------------------------------------------------------------------
// ISO 8601 repeating intervals

const START_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;
const NUM = "(\\d+(?:[.,]\\d+)?)";
const PERIOD_RE = new RegExp(`^P(?:${NUM}Y)?(?:${NUM}M)?(?:${NUM}W)?(?:${NUM}D)?(?:T(?:${NUM}H)?(?:${NUM}M)?(?:${NUM}S)?)?$`);

export type IsoPeriod = { months: number; fixedMs: number };

/** `P1.3WT2M` → calendar months (integer part of M) + fixed milliseconds. A year is 365 days, as OONI counted. */
export function parsePeriod(p: string): IsoPeriod {
  const m = PERIOD_RE.exec(p);
  if (!m) throw new ScheduleError(`invalid ISO 8601 duration "${p}" (expected e.g. P1D, PT1H, P1.5W, P1Y2M3DT4H5M6S)`);
  if (p.endsWith("T")) throw new ScheduleError(`invalid ISO 8601 duration "${p}": nothing after T`);
  const n = (i: number) => (m[i] === undefined ? 0 : Number(m[i].replace(",", ".")));
  const [y, mo, w, d, h, mi, s] = [1, 2, 3, 4, 5, 6, 7].map(n);
  const wholeMonths = Math.floor(mo);
  const fixedMs = Math.round(y * 365 * DAY + (mo - wholeMonths) * 30 * DAY + w * 7 * DAY + d * DAY + h * 3_600_000 + mi * MINUTE + s * 1000);
  if (!Number.isFinite(fixedMs) || wholeMonths > 12_000 || fixedMs > 1000 * 365 * DAY) throw new ScheduleError(`duration "${p}" is too long`);
  return { months: wholeMonths, fixedMs };
}

function parseStart(s: string): number {
  const m = START_RE.exec(s);
  if (!m) throw new ScheduleError(`invalid start "${s}" (expected UTC like 2017-05-01T00:00:00Z, optionally with fractional seconds)`);
  const ms = Date.parse(s);
  const d = new Date(ms);
  // Date.parse accepts 2017-02-30; a calendar date that does not exist is an error, not a silent roll-over.
  if (Number.isNaN(ms) || d.getUTCDate() !== Number(m[3]) || d.getUTCMonth() + 1 !== Number(m[2]) || Number(m[4]) > 23) {
    throw new ScheduleError(`invalid start "${s}": no such date or time`);
  }
  return ms;
}

/** Add whole calendar months, clamping the day to the month's end (Jan 31 + 1 month = Feb 28/29). */
function addMonthsUtc(ms: number, months: number): number {
  if (months === 0) return ms;
  const d = new Date(ms);
  const day = d.getUTCDate();
  const target = new Date(
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()),
  );
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return target.getTime();
}

/** Run k of an ISO schedule: always computed from the anchor, never from the previous run. */
export function isoRunAt(startMs: number, period: IsoPeriod, k: number): number {
  return addMonthsUtc(startMs, k * period.months) + k * period.fixedMs;
}

export function parseIso(source: string, nowMs: number): Schedule {
  const parts = source.split("/");
  if (parts.length !== 3) throw new ScheduleError(`invalid schedule "${source}": expected R[n]/<start>/<period> or a 5-field cron`);
  const rm = /^R(\d*)$/.exec(parts[0]);
  if (!rm) throw new ScheduleError(`invalid repetition "${parts[0]}": expected R (forever) or Rn`);
  const repeat = rm[1] === "" ? null : Number(rm[1]);
  if (repeat !== null && (repeat < 1 || repeat > 1_000_000)) throw new ScheduleError("the repetition count must be between 1 and 1000000");
  const startMs = parts[1] === "" ? nowMs : parseStart(parts[1]);
  const period = parsePeriod(parts[2]);
  if (repeat !== 1) {
    if (period.months === 0 && period.fixedMs < MIN_PERIOD_MS) {
      throw new ScheduleError("a repeating schedule needs a period of at least one minute (the cron trigger's resolution)");
    }
  }
  const approx = period.months * 30.436875 * DAY + period.fixedMs;
  return {
    kind: "iso",
    source,
    repeat,
    startMs,
    slotAtOrAfter(t: number): Slot | null {
      let k = 0;
      if (t > startMs && approx > 0) k = Math.max(0, Math.floor((t - startMs) / approx) - 2);
      // A few steps at most: the estimate undershoots by at most two periods.
      for (let i = 0; i < 1_000; i++, k++) {
        if (repeat !== null && k >= repeat) return null;
        const at = isoRunAt(startMs, period, k);
        if (at >= t) return { at, index: k };
        if (approx === 0) return null; // R1/…/P: one run, already past
      }
      return null;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 5-field cron, UTC

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/** Cron shorthands and the 5-field expressions they stand for (also used by the console's schedule words). */
export const CRON_MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

type Field = { allowed: boolean[]; star: boolean };

function parseField(text: string, name: string, min: number, max: number, names?: string[]): Field {
  const allowed = new Array<boolean>(max + 1).fill(false);
  const value = (v: string): number => {
    const upper = v.toUpperCase();
    if (names) {
      const i = names.indexOf(upper);
      if (i >= 0) return i + (name === "month" ? 1 : 0);
    }
    if (!/^\d+$/.test(v)) throw new ScheduleError(`cron ${name}: "${v}" is not a number${names ? " or a name" : ""}`);
    const n = Number(v);
    if (n < min || n > max) throw new ScheduleError(`cron ${name}: ${n} is outside ${min}-${max}`);
    return n;
  };
  for (const item of text.split(",")) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(item);
    if (!m) throw new ScheduleError(`cron ${name}: cannot parse "${item}"`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1 || step > max) throw new ScheduleError(`cron ${name}: step ${m[2]} is out of range`);
    let lo: number;
    let hi: number;
    if (m[1] === "*") [lo, hi] = [min, max];
    else if (m[1].includes("-")) {
      const [a, b] = m[1].split("-");
      [lo, hi] = [value(a), value(b)];
      if (lo > hi) throw new ScheduleError(`cron ${name}: range ${m[1]} goes backwards`);
    } else {
      lo = value(m[1]);
      hi = m[2] === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) allowed[v] = true;
  }
  return { allowed, star: text.startsWith("*") };
}

export type CronSpec = { minute: Field; hour: Field; dom: Field; month: Field; dow: Field };

export function parseCronSpec(source: string): CronSpec {
  const expr = CRON_MACROS[source.trim().toLowerCase()] ?? source.trim();
  const f = expr.split(/\s+/);
  if (f.length !== 5) throw new ScheduleError(`invalid cron "${source}": expected 5 fields (minute hour day-of-month month day-of-week)`);
  const dow = parseField(f[4], "day-of-week", 0, 7, DAYS);
  if (dow.allowed[7]) dow.allowed[0] = true; // 7 is Sunday too
  return {
    minute: parseField(f[0], "minute", 0, 59),
    hour: parseField(f[1], "hour", 0, 23),
    dom: parseField(f[2], "day-of-month", 1, 31),
    month: parseField(f[3], "month", 1, 12, MONTHS),
    dow,
  };
}

function dayMatches(c: CronSpec, d: Date): boolean {
  const dom = c.dom.allowed[d.getUTCDate()];
  const dow = c.dow.allowed[d.getUTCDay()];
  // Vixie cron: when both day fields are restricted, either may match.
  if (!c.dom.star && !c.dow.star) return dom || dow;
  return dom && dow;
}

/** The first cron minute at or after t, searching at most ~5 years ahead. */
export function cronAtOrAfter(c: CronSpec, t: number): number | null {
  let d = new Date(Math.ceil(t / MINUTE) * MINUTE);
  const limit = t + 5 * 366 * DAY;
  while (d.getTime() <= limit) {
    if (!c.month.allowed[d.getUTCMonth() + 1]) {
      d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1));
      continue;
    }
    if (!dayMatches(c, d)) {
      d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1));
      continue;
    }
    if (!c.hour.allowed[d.getUTCHours()]) {
      d = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1));
      continue;
    }
    if (!c.minute.allowed[d.getUTCMinutes()]) {
      d = new Date(d.getTime() + MINUTE);
      continue;
    }
    return d.getTime();
  }
  return null;
}

export function parseCron(source: string, nowMs: number): Schedule {
  const spec = parseCronSpec(source);
  if (cronAtOrAfter(spec, nowMs) === null) throw new ScheduleError(`cron "${source}" never fires`);
  return {
    kind: "cron",
    source,
    repeat: null,
    startMs: nowMs,
    slotAtOrAfter: (t) => {
      const at = cronAtOrAfter(spec, t);
      return at === null ? null : { at, index: null };
    },
  };
}

/** Either syntax: an ISO interval has slashes between its three parts and no spaces; anything else is cron. */
export function parseSchedule(source: string, nowMs: number): Schedule {
  const s = source.trim();
  if (s === "") throw new ScheduleError("schedule is empty");
  return s.startsWith("R") || (s.includes("/") && !/\s/.test(s)) ? parseIso(s, nowMs) : parseCron(s, nowMs);
}

/** Re-create a stored schedule: the anchor is the stored start (an empty ISO start was "now" at creation). */
export function storedSchedule(source: string, startMs: number): Schedule {
  return parseSchedule(source, startMs);
}

// ---------------------------------------------------------------------------------------------------------------
// What the minute cron does with a due job

export type DuePlan = {
  /** The one run to fire now (the latest due one within the starting deadline), or null. */
  fire: Slot | null;
  /** Runs that came due but will never fire (service down, paused...). */
  missed: { count: number; capped: boolean; first: number | null; last: number | null };
  /** The next run after now, or null when the schedule is over. */
  next: Slot | null;
};

const MISSED_COUNT_CAP = 1000;

/**
 * Given the stored next run and now: fire the latest due run if it is within the starting deadline, record the
 * rest as missed (one record, not one per run), and compute the next run. A service that was down for a week
 * fires at most once when it comes back (Kubernetes CronJob's startingDeadlineSeconds, without its 100-miss wall).
 */
export function planDue(schedule: Schedule, nextRunAt: number, now: number, startingDeadlineMs: number): DuePlan {
  if (nextRunAt > now) return { fire: null, missed: { count: 0, capped: false, first: null, last: null }, next: schedule.slotAtOrAfter(nextRunAt) };
  const windowStart = Math.max(nextRunAt, now - startingDeadlineMs);
  let fire: Slot | null = null;
  let s = schedule.slotAtOrAfter(windowStart);
  while (s && s.at <= now) {
    fire = s;
    s = schedule.slotAtOrAfter(s.at + 1);
  }
  const next = s;
  // Count the due runs that will not fire: from the stored next run up to the fired one (or up to now).
  const bound = fire ? fire.at : now + 1;
  let count = 0;
  let first: number | null = null;
  let last: number | null = null;
  let capped = false;
  let m = schedule.slotAtOrAfter(nextRunAt);
  while (m && m.at < bound) {
    if (count >= MISSED_COUNT_CAP) {
      capped = true;
      break;
    }
    count++;
    first ??= m.at;
    last = m.at;
    m = schedule.slotAtOrAfter(m.at + 1);
  }
  return { fire, missed: { count, capped, first, last }, next };
}

/** The next n run times from t, for previews. */
export function upcoming(schedule: Schedule, t: number, n: number): number[] {
  const out: number[] = [];
  let s = schedule.slotAtOrAfter(t);
  while (s && out.length < n) {
    out.push(s.at);
    s = schedule.slotAtOrAfter(s.at + 1);
  }
  return out;
}
