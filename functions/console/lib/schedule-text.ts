import { CRON_MACROS, parseSchedule, ScheduleError, upcoming } from "../../campaigns/schedule";

// Schedules in words, for the campaign form's preview and the campaign pages. Pure: the caller passes "now".
// The parsing and the next-run arithmetic are the campaign surface's own (functions/campaigns/schedule.ts), so the
// preview can never disagree with what the API will accept and fire.

const N = "(\\d+(?:[.,]\\d+)?)";
const DATE_UNITS: [RegExp, string][] = [
  [new RegExp(`${N}Y`), "year"],
  [new RegExp(`${N}M`), "month"],
  [new RegExp(`${N}W`), "week"],
  [new RegExp(`${N}D`), "day"],
];
const TIME_UNITS: [RegExp, string][] = [
  [new RegExp(`${N}H`), "hour"],
  [new RegExp(`${N}M`), "minute"],
  [new RegExp(`${N}S`), "second"],
];

const plural = (n: string, unit: string) => `${n.replace(",", ".")} ${unit}${n === "1" ? "" : "s"}`;

/** "P1DT12H" → "1 day 12 hours"; "PT15M" → "15 minutes". Assumes a period the parser accepted. */
export function describePeriod(p: string): string {
  const [date, time = ""] = p.slice(1).split("T");
  const parts: string[] = [];
  for (const [re, unit] of DATE_UNITS) {
    const m = re.exec(date);
    if (m) parts.push(plural(m[1], unit));
  }
  for (const [re, unit] of TIME_UNITS) {
    const m = re.exec(time);
    if (m) parts.push(plural(m[1], unit));
  }
  return parts.join(" ") || "0 seconds";
}

const DOW = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const DOW_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const pad = (n: string) => n.padStart(2, "0");
const isNum = (s: string) => /^\d+$/.test(s);

function dayNames(field: string): string | null {
  if (field.toUpperCase() === "1-5" || field.toUpperCase() === "MON-FRI") return "weekday (Monday to Friday)";
  const items = field.split(",");
  const out: string[] = [];
  for (const it of items) {
    const v = it.toUpperCase();
    const i = isNum(v) ? Number(v) : DOW_NAMES.indexOf(v);
    if (i < 0 || i > 7) return null;
    out.push(DOW[i]);
  }
  return out.join(", ");
}

/** A 5-field cron in words for the common shapes; anything else is spelled out field by field. All times UTC. */
export function describeCron(source: string): string {
  const expr = CRON_MACROS[source.trim().toLowerCase()] ?? source.trim();
  const f = expr.split(/\s+/);
  if (f.length !== 5) return `cron ${source}`;
  const [mi, h, dom, mon, dow] = f;
  const restStar = dom === "*" && mon === "*" && dow === "*";
  if (f.every((x) => x === "*")) return "Every minute";
  const step = /^\*\/(\d+)$/.exec(mi);
  if (step && h === "*" && restStar) return `Every ${step[1]} minutes`;
  if (isNum(mi) && h === "*" && restStar) return `Every hour at minute ${Number(mi)}`;
  const hstep = /^\*\/(\d+)$/.exec(h);
  if (isNum(mi) && hstep && restStar) return `Every ${hstep[1]} hours at minute ${Number(mi)} (UTC)`;
  if (isNum(mi) && isNum(h)) {
    const at = `${pad(h)}:${pad(mi)} UTC`;
    if (restStar) return `Every day at ${at}`;
    if (dom === "*" && mon === "*") {
      const days = dayNames(dow);
      if (days) return `Every ${days} at ${at}`;
    }
    if (isNum(dom) && mon === "*" && dow === "*") return `On day ${Number(dom)} of every month at ${at}`;
  }
  return `At minute ${mi}, hour ${h}, day-of-month ${dom}, month ${mon}, day-of-week ${dow} (UTC)`;
}

/** "2017-05-01T00:00:00Z" → "2017-05-01 00:00 UTC" (seconds kept when not zero). */
function when(ms: number): string {
  const iso = new Date(ms).toISOString();
  const sec = iso.slice(17, 19);
  return `${iso.slice(0, 16).replace("T", " ")}${sec === "00" && iso.slice(20, 23) === "000" ? "" : `:${sec}`} UTC`;
}

/** An ISO 8601 repeating interval in words: "Every 1 day, forever, from 2017-05-01 00:00 UTC". */
export function describeIso(source: string, startMs: number, startWasEmpty: boolean): string {
  const [r, , period] = source.split("/");
  const repeat = r === "R" ? null : Number(r.slice(1));
  const from = startWasEmpty ? "starting when it is created" : `from ${when(startMs)}`;
  if (repeat === 1) return startWasEmpty ? "Once, when it is created" : `Once, at ${when(startMs)}`;
  const d = describePeriod(period);
  const single = /^1 (\w+)$/.exec(d);
  const every = single ? `Every ${single[1]}` : `Every ${d}`;
  return repeat === null ? `${every}, forever, ${from}` : `${every}, ${repeat} times, ${from}`;
}

export type SchedulePreview = { ok: true; kind: "iso" | "cron"; text: string; next: string[]; finite: boolean } | { ok: false; error: string };

/**
 * What a schedule means and when it next runs, exactly as the API will compute it (the same parser); an empty or
 * invalid schedule gives the parser's message, which the form shows next to the field.
 */
export function schedulePreview(source: string, nowMs: number, count = 5): SchedulePreview {
  const s = source.trim();
  try {
    const sched = parseSchedule(s, nowMs);
    const next = upcoming(sched, nowMs, count).map((ms) => new Date(ms).toISOString());
    const text = sched.kind === "cron" ? describeCron(s) : describeIso(s, sched.startMs, s.split("/")[1] === "");
    return { ok: true, kind: sched.kind, text, next, finite: sched.repeat !== null };
  } catch (e) {
    if (e instanceof ScheduleError) return { ok: false, error: e.message };
    throw e;
  }
}
