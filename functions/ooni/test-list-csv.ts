/**
 * Citizen Lab test lists (github.com/citizenlab/test-lists, `lists/<cc>.csv` and `lists/global.csv`): RFC 4180 CSV
 * with the header `url,category_code,category_description,date_added,source,notes`. Parsed here without bindings.
 */
export const TEST_LIST_COLUMNS = ["url", "category_code", "category_description", "date_added", "source", "notes"] as const;

export type TestListEntry = { url: string; category_code: string; category_description: string; date_added: string; source: string; notes: string };
export type CsvProblem = { line: number; message: string };
export type ParsedTestList = { entries: TestListEntry[]; problems: CsvProblem[] };

export const MAX_URL_LENGTH = 2048;

/** Records of an RFC 4180 text: quoted fields may hold commas, doubled quotes and line breaks. Each with its first line number. */
export function csvRecords(text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let start = 1;
  let sawAny = false;
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === "\n") line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === "") {
      quoted = true;
      sawAny = true;
    } else if (ch === ",") {
      fields.push(field);
      field = "";
      sawAny = true;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && s[i + 1] === "\n") i++;
      fields.push(field);
      if (sawAny || fields.some((f) => f !== "")) out.push({ line: start, fields });
      fields = [];
      field = "";
      sawAny = false;
      line++;
      start = line;
    } else {
      field += ch;
      sawAny = true;
    }
  }
  if (quoted) out.push({ line: start, fields: [...fields, `\u0000unterminated`] });
  else if (sawAny || field !== "" || fields.length) {
    fields.push(field);
    if (fields.some((f) => f !== "")) out.push({ line: start, fields });
  }
  return out;
}

const HTTP_URL = /^https?:\/\/[^\s/?#]+[^\s]*$/i;

/** A usable test-list URL: http(s), absolute, at most 2,048 characters. */
export function isTestableUrl(u: string): boolean {
  if (u.length > MAX_URL_LENGTH || !HTTP_URL.test(u)) return false;
  try {
    const p = new URL(u);
    return (p.protocol === "http:" || p.protocol === "https:") && p.hostname !== "";
  } catch {
    return false;
  }
}

/**
 * Entries of one list, and every problem with its line number. The header must be Citizen Lab's (extra trailing
 * columns are tolerated); a row with a bad URL or category code is a problem, as is a URL listed twice.
 */
export function parseTestList(text: string): ParsedTestList {
  const records = csvRecords(text);
  const problems: CsvProblem[] = [];
  if (records.length === 0) return { entries: [], problems: [{ line: 1, message: "empty file: expected the header " + TEST_LIST_COLUMNS.join(",") }] };
  const header = records[0].fields.map((h) => h.trim().toLowerCase());
  if (TEST_LIST_COLUMNS.some((c, i) => header[i] !== c)) {
    return { entries: [], problems: [{ line: records[0].line, message: `header must start with ${TEST_LIST_COLUMNS.join(",")}` }] };
  }
  const entries: TestListEntry[] = [];
  const seen = new Set<string>();
  for (const { line, fields } of records.slice(1)) {
    if (fields.at(-1) === "\u0000unterminated") {
      problems.push({ line, message: "unterminated quoted field" });
      continue;
    }
    if (fields.length < 2) {
      problems.push({ line, message: `expected ${TEST_LIST_COLUMNS.length} columns, got ${fields.length}` });
      continue;
    }
    const [url, cat, desc = "", date = "", source = "", notes = ""] = fields.map((f) => f.trim());
    const category = cat.toUpperCase();
    if (!isTestableUrl(url)) problems.push({ line, message: `url must be an http(s) URL of at most ${MAX_URL_LENGTH} characters` });
    else if (!/^[A-Z]{1,16}$/.test(category)) problems.push({ line, message: "category_code must be 1-16 letters (e.g. NEWS, HUMR)" });
    else if (seen.has(url)) problems.push({ line, message: `duplicate url ${url}` });
    else {
      seen.add(url);
      entries.push({
        url,
        category_code: category,
        category_description: desc.slice(0, 200),
        date_added: date.slice(0, 32),
        source: source.slice(0, 200),
        notes: notes.slice(0, 1000),
      });
    }
  }
  return { entries, problems };
}
