// Shared by the benchmarks: command-line options, the development secrets, and bench/README.md sections.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../test/e2e/harness.mjs";

/** `--name value` from the command line, or the default. */
export const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};

/** The development secrets of .dev.vars.example whose names match `re` (e.g. /^LEASE_/), as a vars object. */
export function devVars(re) {
  const text = readFileSync(path.join(ROOT, ".dev.vars.example"), "utf8");
  const out = {};
  for (const m of text.matchAll(/^([A-Z0-9_]+)=(['"])(.*)\2$/gm)) if (re.test(m[1])) out[m[1]] = m[3];
  return out;
}

/** Replaces the `<!-- key:start -->…<!-- key:end -->` section of bench/README.md (appends it the first time). */
export function writeSection(key, section) {
  const file = path.join(ROOT, "bench", "README.md");
  const text = readFileSync(file, "utf8");
  const re = new RegExp(`<!-- ${key}:start -->[\\s\\S]*<!-- ${key}:end -->`);
  writeFileSync(file, re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n${section}\n`);
  console.log(`wrote ${file}`);
}
