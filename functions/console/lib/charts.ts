// Chart geometry as plain functions: data in, rectangles and paths out (rendered by components/chart.tsx).
// No DOM, no bindings: tested directly in test/console/charts.test.ts.

export type Datum = { label: string; value: number };

/** The smallest 1, 2 or 5 × 10^k at or above `max` (a round axis end); 1 for an empty or all-zero series. */
export function niceMax(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const exp = Math.floor(Math.log10(max));
  const base = 10 ** exp;
  for (const m of [1, 2, 5, 10]) if (m * base >= max - 1e-9 * base) return m * base;
  return 10 * base;
}

/**
 * Tick values from 0 to `max` (a niceMax result) on whole steps, 3 to 6 ticks where possible: counts never get a
 * "0.25" tick. Falls back to `count` even steps for fractional maxima.
 */
export function ticks(max: number, count = 4): number[] {
  if (Number.isInteger(max)) {
    const n = [4, 5, 2, 3, 1].find((k) => max % k === 0 && max / k >= 1) ?? 1;
    return Array.from({ length: n + 1 }, (_, i) => (i * max) / n);
  }
  return Array.from({ length: count + 1 }, (_, i) => Math.round(((i * max) / count) * 100) / 100);
}

export type HBar = Datum & { y: number; width: number; labelY: number };
export type HBarLayout = { width: number; height: number; labelWidth: number; plotWidth: number; barHeight: number; max: number; bars: HBar[] };

/** Horizontal bars (categories: countries, platforms): one row per datum, bar length proportional to value. */
export function hbarLayout(data: Datum[], o: { width?: number; rowHeight?: number; labelWidth?: number; gap?: number } = {}): HBarLayout {
  // Sized for a ~320 px panel so SVG text stays at its nominal size on desktop and phone.
  const width = o.width ?? 320;
  const rowHeight = o.rowHeight ?? 24;
  const labelWidth = o.labelWidth ?? 88;
  const gap = o.gap ?? 6;
  const valueRoom = 48; // space right of the bar for its number
  const plotWidth = Math.max(1, width - labelWidth - valueRoom);
  const max = Math.max(0, ...data.map((d) => d.value));
  const bars = data.map((d, i) => ({
    ...d,
    y: i * rowHeight,
    labelY: i * rowHeight + (rowHeight - gap) / 2,
    width: max > 0 ? Math.max(d.value > 0 ? 1 : 0, round((d.value / max) * plotWidth)) : 0,
  }));
  return { width, height: Math.max(rowHeight, data.length * rowHeight), labelWidth, plotWidth, barHeight: rowHeight - gap, max, bars };
}

export type Column = Datum & { x: number; y: number; w: number; h: number };
export type ColumnLayout = {
  width: number;
  height: number;
  plot: { x: number; y: number; w: number; h: number };
  max: number;
  columns: Column[];
  yTicks: { value: number; y: number }[];
  xLabels: { label: string; x: number }[];
};

const PAD = { top: 8, right: 8, bottom: 22, left: 40 };

/** Vertical columns on a shared y axis (time series such as registrations per day). */
export function columnLayout(data: Datum[], o: { width?: number; height?: number; labelEvery?: number } = {}): ColumnLayout {
  const width = o.width ?? 480;
  const height = o.height ?? 180;
  const plot = { x: PAD.left, y: PAD.top, w: width - PAD.left - PAD.right, h: height - PAD.top - PAD.bottom };
  const max = niceMax(Math.max(0, ...data.map((d) => d.value)));
  const slot = data.length ? plot.w / data.length : plot.w;
  const w = Math.max(1, round(slot * 0.8));
  const columns = data.map((d, i) => {
    const h = round((d.value / max) * plot.h);
    return { ...d, x: round(plot.x + i * slot + (slot - w) / 2), y: round(plot.y + plot.h - h), w, h };
  });
  const every = o.labelEvery ?? Math.max(1, Math.ceil(data.length / 6));
  const xLabels = data
    .map((d, i) => ({ label: d.label, x: round(plot.x + i * slot + slot / 2), i }))
    .filter((l) => l.i % every === 0)
    .map(({ label, x }) => ({ label, x }));
  const yTicks = ticks(max).map((value) => ({ value, y: round(plot.y + plot.h - (value / max) * plot.h) }));
  return { width, height, plot, max, columns, yTicks, xLabels };
}

export type LineLayout = Omit<ColumnLayout, "columns"> & { path: string; area: string; points: (Datum & { x: number; y: number })[] };

/** A line (and the area under it) through the data on a shared y axis (cumulative series such as fleet size). */
export function lineLayout(data: Datum[], o: { width?: number; height?: number; labelEvery?: number } = {}): LineLayout {
  const { columns, ...base } = columnLayout(data, o);
  const { plot, max } = base;
  const step = data.length > 1 ? plot.w / (data.length - 1) : 0;
  const points = data.map((d, i) => ({
    ...d,
    x: round(plot.x + (data.length > 1 ? i * step : plot.w / 2)),
    y: round(plot.y + plot.h - (d.value / max) * plot.h),
  }));
  const path = points.map((p, i) => `${i ? "L" : "M"}${p.x} ${p.y}`).join(" ");
  const baseY = plot.y + plot.h;
  const area = points.length ? `${path} L${points[points.length - 1].x} ${baseY} L${points[0].x} ${baseY} Z` : "";
  const xLabels = base.xLabels.map((l, k) => {
    const idx = data.findIndex((d) => d.label === l.label);
    return { label: l.label, x: points[idx >= 0 ? idx : k]?.x ?? l.x };
  });
  void columns;
  return { ...base, xLabels, path, area, points };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export type StackedSeries = { label: string; values: Record<string, number> };
export type Segment = { key: string; value: number; y: number; h: number };
export type StackedColumn = { label: string; total: number; x: number; w: number; segments: Segment[] };
export type StackedLayout = Omit<ColumnLayout, "columns"> & { stacked: StackedColumn[]; keys: string[] };

/**
 * Stacked columns (e.g. a campaign's tasks by state per run, pushes by outcome per hour): one column per series
 * entry, one segment per key in `keys` order from the bottom; the y axis ends at a round number above the tallest.
 */
export function stackedLayout(data: StackedSeries[], keys: string[], o: { width?: number; height?: number; labelEvery?: number } = {}): StackedLayout {
  const totals = data.map((d) => keys.reduce((s, k) => s + (d.values[k] ?? 0), 0));
  const { columns, ...base } = columnLayout(
    data.map((d, i) => ({ label: d.label, value: totals[i] })),
    o,
  );
  const { plot, max } = base;
  const stacked = columns.map((c, i) => {
    let acc = 0;
    const segments: Segment[] = [];
    for (const k of keys) {
      const v = data[i].values[k] ?? 0;
      if (v <= 0) continue;
      const y0 = plot.y + plot.h - (acc / max) * plot.h;
      acc += v;
      const y1 = plot.y + plot.h - (acc / max) * plot.h;
      segments.push({ key: k, value: v, y: round(y1), h: round(y0 - y1) });
    }
    return { label: c.label, total: totals[i], x: c.x, w: c.w, segments };
  });
  return { ...base, stacked, keys };
}
