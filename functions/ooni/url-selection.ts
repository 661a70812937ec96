/** A URL as check-in hands it out (probe-cli's OOAPIURLInfo). */
export type UrlInfo = { category_code: string; country_code: string; url: string };

/** Global test-list entries are stored and served as country "XX", as OONI's backend serves them. */
export const GLOBAL_CC = "XX";

/** OONI's limits: manual runs test the whole list (9999), timed runs 100 URLs while charging, else 20. */
export function urlLimit(runType: "timed" | "manual", charging: boolean): number {
  if (runType === "manual") return 9999;
  return charging ? 100 : 20;
}

/** Category codes as the check-in sends them: a list, or OONI's comma-separated string; blanks dropped, upper-cased. */
export function categoryCodes(raw: string[] | string | undefined): string[] {
  const list = typeof raw === "string" ? raw.split(",") : (raw ?? []);
  return [...new Set(list.map((c) => c.trim().toUpperCase()).filter((c) => c !== ""))];
}

/** Fisher–Yates with an injected random source, so tests can fix the order. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * The test-list part of a check-in answer: the probe's country list first, then the global list, each in random
 * order (so successive timed runs of 20 cover the list instead of repeating its head), a URL present in both
 * kept once with the country's entry, filtered by the requested categories (none = all), cut to `limit`.
 */
export function selectUrls(candidates: readonly UrlInfo[], probeCc: string, categories: readonly string[], limit: number, random: () => number): UrlInfo[] {
  const wanted = new Set(categories);
  const keep = (u: UrlInfo) => wanted.size === 0 || wanted.has(u.category_code);
  const national = shuffled(
    candidates.filter((u) => u.country_code === probeCc && keep(u)),
    random,
  );
  const global = shuffled(
    candidates.filter((u) => u.country_code !== probeCc && keep(u)),
    random,
  );
  const seen = new Set<string>();
  const out: UrlInfo[] = [];
  for (const u of [...national, ...global]) {
    if (out.length >= limit) break;
    if (seen.has(u.url)) continue;
    seen.add(u.url);
    out.push(u);
  }
  return out;
}

/**
 * A campaign's URLs first, then the test list's, without repeats. The campaign's URLs are the operator's intent
 * and are never cut or filtered by category; the list fills what remains of `limit`. A campaign URL takes its
 * category from the test list when the list has it, else "MISC" (Citizen Lab's "miscellaneous").
 */
export function mergeCampaignUrls(
  campaignUrls: readonly string[],
  list: readonly UrlInfo[],
  probeCc: string,
  limit: number,
  known: ReadonlyMap<string, string>,
): UrlInfo[] {
  const seen = new Set<string>();
  const out: UrlInfo[] = [];
  for (const url of campaignUrls) {
    if (seen.has(url)) continue;
    seen.add(url);
    out.push({ category_code: known.get(url) ?? "MISC", country_code: probeCc, url });
  }
  for (const u of list) {
    if (out.length >= limit) break;
    if (seen.has(u.url)) continue;
    seen.add(u.url);
    out.push(u);
  }
  return out;
}
