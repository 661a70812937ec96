// Formatting for pages: plain functions, no bindings.

const nf = new Intl.NumberFormat("en-US");

export function formatCount(n: number): string {
  return nf.format(n);
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", or the date for anything older than 60 days. */
export function relativeTime(iso: string, now: Date): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now.getTime() - t) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  let text: string;
  if (a < 45) return "just now";
  else if (a < 3600) text = `${Math.round(a / 60)} min`;
  else if (a < 86_400) text = `${Math.round(a / 3600)} h`;
  else if (a < 60 * 86_400) {
    const d = Math.round(a / 86_400);
    text = `${d} day${d === 1 ? "" : "s"}`;
  } else return iso.slice(0, 10);
  return future ? `in ${text}` : `${text} ago`;
}

/** "2026-11-24 22:42 UTC" from an RFC 3339 string. */
export function utcMinute(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** First 8 characters of an id, for dense tables (the full id is in the link and its title). */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}
