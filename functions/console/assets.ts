// The console's only asset, served by the Worker itself (no CDN, no build step). System fonts, no images.

export const CONSOLE_CSS = `
:root {
  --bg: #fbfbfd; --fg: #1b1f24; --muted: #5b6470; --line: #d5d9df; --panel: #ffffff;
  --accent: #0b5cad; --accent-fg: #ffffff; --bar: #2f6fb5; --bar-2: #8fb4de; --danger: #b3261e; --ok: #1d7a3a;
  --focus: #ffbf47; --radius: 6px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  line-height: 1.45; color: var(--fg); background: var(--bg);
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171b; --fg: #e8eaed; --muted: #a2aab4; --line: #39404a; --panel: #1c2026;
    --accent: #6aa9ec; --accent-fg: #0b1420; --bar: #6aa9ec; --bar-2: #35587f; --danger: #ff8a80; --ok: #7bd88f; }
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.skip-link { position: absolute; left: .5rem; top: -3rem; background: var(--panel); color: var(--fg); padding: .5rem .75rem; border: 2px solid var(--accent); z-index: 10; }
.skip-link:focus { top: .5rem; }
.site-header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .6rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
.brand { font-weight: 700; text-decoration: none; color: var(--fg); }
.site-header nav ul { display: flex; flex-wrap: wrap; gap: .25rem; list-style: none; margin: 0; padding: 0; }
.site-header nav a { display: inline-block; padding: .35rem .6rem; border-radius: var(--radius); text-decoration: none; }
.site-header nav a[aria-current="page"] { background: var(--accent); color: var(--accent-fg); }
.account { margin-left: auto; display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; }
.account form { margin: 0; }
.role { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; border: 1px solid var(--line); border-radius: 999px; padding: .05rem .45rem; color: var(--muted); }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); }
.grid { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: 1rem; min-width: 0; }
.stats { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); margin: 0 0 1rem; padding: 0; }
.stats div { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: .75rem 1rem; }
.stats dt { color: var(--muted); font-size: .9rem; }
.stats dd { margin: 0; font-size: 1.6rem; font-weight: 700; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; overflow-wrap: anywhere; }
@media (max-width: 36rem) { dl.meta { grid-template-columns: 1fr; } dl.meta dd { margin-bottom: .4rem; } }
/* forms */
form.stack, form.filters { display: grid; gap: .75rem; }
form.filters { grid-template-columns: repeat(auto-fit, minmax(min(100%, 11rem), 1fr)); align-items: end; background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: 1rem; }
form.stack { max-width: 32rem; }
.field { display: flex; flex-direction: column; gap: .2rem; min-width: 0; }
.field label { font-weight: 600; }
.optional { font-weight: 400; color: var(--muted); }
.hint { margin: 0; font-size: .85rem; color: var(--muted); }
input, select, button { font: inherit; }
input, select { padding: .45rem .55rem; border: 1px solid var(--muted); border-radius: var(--radius); background: var(--panel); color: var(--fg); min-height: 2.5rem; width: 100%; }
.has-error input, .has-error select { border: 2px solid var(--danger); }
.field-error { margin: 0; color: var(--danger); font-weight: 600; font-size: .9rem; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
button, .button { display: inline-block; min-height: 2.5rem; padding: .45rem 1rem; border: 1px solid var(--accent); border-radius: var(--radius); background: var(--accent); color: var(--accent-fg); cursor: pointer; text-decoration: none; }
button.secondary, .button.secondary { background: transparent; color: var(--accent); }
button.danger { background: transparent; color: var(--danger); border-color: var(--danger); min-height: 2rem; padding: .2rem .6rem; }
.button-link { background: none; border: none; color: var(--accent); text-decoration: underline; padding: .25rem; min-height: auto; }
.error-summary { border: 3px solid var(--danger); border-radius: var(--radius); padding: .5rem 1rem; margin: 0 0 1rem; background: var(--panel); }
.error-summary h2 { margin: .25rem 0; font-size: 1.1rem; }
.error-summary a { color: var(--danger); font-weight: 600; }
.flash { border-left: 5px solid var(--ok); background: var(--panel); padding: .5rem 1rem; }
/* tables */
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: var(--radius); background: var(--panel); }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
caption { text-align: left; padding: .5rem .75rem; font-weight: 600; }
th, td { text-align: left; padding: .4rem .75rem; border-top: 1px solid var(--line); vertical-align: top; }
thead th { border-top: none; color: var(--muted); font-weight: 600; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.empty { color: var(--muted); text-align: center; padding: 1rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; }
td code { overflow-wrap: anywhere; }
.pager { display: flex; gap: 1rem; justify-content: space-between; align-items: center; margin: .75rem 0; flex-wrap: wrap; }
.state { display: inline-block; padding: 0 .4rem; border-radius: 999px; border: 1px solid var(--line); font-size: .85rem; }
.state-valid, .state-enabled { color: var(--ok); border-color: var(--ok); }
.state-expired, .state-disabled { color: var(--danger); border-color: var(--danger); }
/* charts */
.chart { margin: 0; }
.chart figcaption { font-weight: 600; margin-bottom: .5rem; }
.chart-svg { width: 100%; height: auto; display: block; overflow: visible; }
.chart-svg rect { fill: var(--bar); }
.chart-svg rect.hit, .chart-svg circle.hit { fill: transparent; }
.chart-svg .bar:hover rect:not(.hit) { fill: var(--bar-2); }
.chart-svg text { fill: var(--fg); font-size: 13px; }
.chart-svg text.tick { fill: var(--muted); font-size: 11px; }
.chart-svg line.grid { stroke: var(--line); stroke-width: 1; }
.chart-svg path.line { fill: none; stroke: var(--bar); stroke-width: 2; }
.chart-svg path.area { fill: var(--bar-2); opacity: .35; }
.chart-svg circle { fill: var(--bar); }
.chart-data { margin-top: .5rem; }
.chart-svg rect.seg-0, .swatch.seg-0 { fill: #2f6fb5; background: #2f6fb5; }
.chart-svg rect.seg-1, .swatch.seg-1 { fill: #8fb4de; background: #8fb4de; }
.chart-svg rect.seg-2, .swatch.seg-2 { fill: #1d7a3a; background: #1d7a3a; }
.chart-svg rect.seg-3, .swatch.seg-3 { fill: #e0a526; background: #e0a526; }
.chart-svg rect.seg-4, .swatch.seg-4 { fill: #7a4fb5; background: #7a4fb5; }
.chart-svg rect.seg-5, .swatch.seg-5 { fill: #b3261e; background: #b3261e; }
.chart-svg rect.seg-6, .swatch.seg-6 { fill: #6b7280; background: #6b7280; }
.chart-svg .bar:hover rect[class^="seg-"] { opacity: .8; }
.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0 0 .5rem; padding: 0; font-size: .9rem; }
.legend li { display: flex; align-items: center; gap: .35rem; }
.swatch { display: inline-block; width: .9rem; height: .9rem; border-radius: 2px; }
/* campaigns */
fieldset { border: 1px solid var(--line); border-radius: var(--radius); padding: .75rem 1rem; margin: 0; min-width: 0; }
legend { font-weight: 600; padding: 0 .25rem; }
.checks { display: flex; flex-wrap: wrap; gap: .35rem 1.25rem; }
.checks label { display: flex; align-items: center; gap: .35rem; font-weight: 400; }
.checks input { width: auto; min-height: auto; }
textarea { font: inherit; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; padding: .45rem .55rem; border: 1px solid var(--muted); border-radius: var(--radius); background: var(--panel); color: var(--fg); width: 100%; min-height: 4.5rem; }
select[multiple] { min-height: 8rem; }
.has-error textarea, fieldset.has-error { border: 2px solid var(--danger); }
form.wide { max-width: 48rem; }
.preview { border-left: 5px solid var(--accent); background: var(--panel); padding: .5rem 1rem; margin: .25rem 0; }
.preview ol { margin: .25rem 0; padding-left: 1.5rem; }
.state-active { color: var(--ok); border-color: var(--ok); }
.state-paused { color: var(--muted); }
.state-deleted, .state-failed { color: var(--danger); border-color: var(--danger); }
/* school */
.state-expiring { color: var(--fg); border-color: var(--accent); border-style: dashed; }
.state-stolen { color: var(--danger); border-color: var(--danger); font-weight: 600; }
.state-none { color: var(--muted); }
.inline-actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0 1rem; }
.inline-actions form { margin: 0; }
.chart-wide .chart-svg { max-width: 48rem; }
#runs { margin-top: 1rem; }
.stats dd.checksum { font-size: 1rem; overflow-wrap: anywhere; }
pre.json { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: .75rem; overflow-x: auto; font-size: .85rem; max-width: 100%; }
.chart-data summary { cursor: pointer; color: var(--accent); }
@media (max-width: 36rem) { main { padding: .75rem; } h1 { font-size: 1.35rem; } .account { margin-left: 0; } }
@media print { .site-header nav, .account, .skip-link { display: none; } }
`;

/** A short content hash for the ETag (FNV-1a 32), computed once per isolate. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

export const CONSOLE_CSS_ETAG = `"${fnv1a(CONSOLE_CSS)}"`;
