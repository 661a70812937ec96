/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import { type Datum, columnLayout, hbarLayout, lineLayout, type StackedSeries, stackedLayout } from "../lib/charts";
import { formatCount } from "../lib/format";
import { DataTable } from "./table";

// SVG charts drawn on the server from the pure layouts in lib/charts.ts. Each is an image with a title and a
// description for screen readers, a <title> tooltip on every mark (hover), and the same numbers as a table.

/** `unit` is [singular, plural], e.g. ["probe", "probes"]. */
type ChartProps = { id: string; title: string; description?: string; data: Datum[]; unit?: [string, string]; labelHeader?: string; empty?: string };

const tip = (label: string, value: number, unit?: [string, string]) => `${label}: ${formatCount(value)}${unit ? ` ${value === 1 ? unit[0] : unit[1]}` : ""}`;

function ChartFrame({ id, title, description, data, unit, labelHeader, empty, children }: ChartProps & { children: Child }) {
  return (
    <figure class="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      {data.length === 0 ? (
        <p class="muted">{empty ?? "No data yet."}</p>
      ) : (
        <>
          {children}
          <details class="chart-data">
            <summary>Show the numbers</summary>
            <DataTable
              id={`${id}-table`}
              caption={title}
              rows={data}
              columns={[
                { label: labelHeader ?? "", cell: (d) => d.label, header: true },
                { label: unit ? unit[1] : "count", cell: (d) => formatCount(d.value), numeric: true },
              ]}
            />
          </details>
        </>
      )}
      {description ? (
        <p class="visually-hidden" id={`${id}-desc`}>
          {description}
        </p>
      ) : null}
    </figure>
  );
}

/** Horizontal bars for categories (countries, platforms, network types, outcomes). */
export function BarChart(p: ChartProps) {
  const l = hbarLayout(p.data);
  return (
    <ChartFrame {...p}>
      <svg
        class="chart-svg"
        viewBox={`0 0 ${l.width} ${l.height}`}
        role="img"
        aria-labelledby={`${p.id}-title`}
        aria-describedby={p.description ? `${p.id}-desc` : undefined}
        preserveAspectRatio="xMinYMin meet"
      >
        <title>{p.title}</title>
        {l.bars.map((b) => (
          <g class="bar">
            <title>{tip(b.label, b.value, p.unit)}</title>
            <text x={l.labelWidth - 6} y={b.labelY} class="label" text-anchor="end" dominant-baseline="middle">
              {b.label.length > 12 ? `${b.label.slice(0, 11)}…` : b.label}
            </text>
            <rect x={l.labelWidth} y={b.y} width={b.width} height={l.barHeight} rx={2} />
            <text x={l.labelWidth + b.width + 4} y={b.labelY} class="value" dominant-baseline="middle">
              {formatCount(b.value)}
            </text>
          </g>
        ))}
      </svg>
    </ChartFrame>
  );
}

function Axes({ l, format }: { l: Omit<ReturnType<typeof columnLayout>, "columns">; format?: (label: string) => string }) {
  const f = format ?? ((s: string) => s);
  return (
    <g class="axes">
      {l.yTicks.map((t) => (
        <g>
          <line x1={l.plot.x} x2={l.plot.x + l.plot.w} y1={t.y} y2={t.y} class="grid" />
          <text x={l.plot.x - 4} y={t.y} text-anchor="end" dominant-baseline="middle" class="tick">
            {formatCount(t.value)}
          </text>
        </g>
      ))}
      {l.xLabels.map((x) => (
        <text x={x.x} y={l.height - 6} text-anchor="middle" class="tick">
          {f(x.label)}
        </text>
      ))}
    </g>
  );
}

const shortDay = (d: string) => (/^\d{4}-\d\d-\d\d$/.test(d) ? d.slice(5) : d);

/** Vertical columns over time (e.g. registrations per day). */
export function ColumnChart(p: ChartProps) {
  const l = columnLayout(p.data);
  return (
    <ChartFrame {...p}>
      <svg class="chart-svg" viewBox={`0 0 ${l.width} ${l.height}`} role="img" aria-labelledby={`${p.id}-title`}>
        <title>{p.title}</title>
        <Axes l={l} format={shortDay} />
        {l.columns.map((c) => (
          <g class="bar">
            <title>{tip(c.label, c.value, p.unit)}</title>
            {/* a full-height transparent target so thin or zero columns still show their tooltip */}
            <rect x={c.x} y={l.plot.y} width={c.w} height={l.plot.h} class="hit" />
            <rect x={c.x} y={c.y} width={c.w} height={c.h} />
          </g>
        ))}
      </svg>
    </ChartFrame>
  );
}

/** A line over time (e.g. fleet size). */
export function LineChart(p: ChartProps) {
  const l = lineLayout(p.data);
  return (
    <ChartFrame {...p}>
      <svg class="chart-svg" viewBox={`0 0 ${l.width} ${l.height}`} role="img" aria-labelledby={`${p.id}-title`}>
        <title>{p.title}</title>
        <Axes l={l} format={shortDay} />
        <path d={l.area} class="area" />
        <path d={l.path} class="line" />
        {l.points.map((pt) => (
          <g class="point">
            <title>{tip(pt.label, pt.value, p.unit)}</title>
            <circle cx={pt.x} cy={pt.y} r={6} class="hit" />
            <circle cx={pt.x} cy={pt.y} r={2.5} />
          </g>
        ))}
      </svg>
    </ChartFrame>
  );
}

type StackedProps = {
  id: string;
  title: string;
  data: StackedSeries[];
  keys: string[];
  unit?: [string, string];
  labelHeader?: string;
  empty?: string;
  /** Axis label text for a column label (the table shows the full label). */
  format?: (label: string) => string;
};

/**
 * Stacked columns with a legend (each key has its own fill, `seg-0`…`seg-6`), a tooltip per segment and per column,
 * and the numbers in a table with one column per key.
 */
export function StackedColumnChart(p: StackedProps) {
  const l = stackedLayout(p.data, p.keys);
  const used = p.keys.filter((k) => p.data.some((d) => (d.values[k] ?? 0) > 0));
  const seg = (k: string) => `seg-${p.keys.indexOf(k) % 7}`;
  return (
    <figure class="chart" aria-labelledby={`${p.id}-title`}>
      <figcaption id={`${p.id}-title`}>{p.title}</figcaption>
      {p.data.length === 0 ? (
        <p class="muted">{p.empty ?? "No data yet."}</p>
      ) : (
        <>
          <ul class="legend" aria-label="Legend">
            {used.map((k) => (
              <li>
                <span class={`swatch ${seg(k)}`} aria-hidden="true" />
                {k}
              </li>
            ))}
          </ul>
          <svg class="chart-svg" viewBox={`0 0 ${l.width} ${l.height}`} role="img" aria-labelledby={`${p.id}-title`}>
            <title>{p.title}</title>
            <Axes l={l} format={p.format} />
            {l.stacked.map((c) => (
              <g class="bar">
                <title>{`${c.label}: ${tip("total", c.total, p.unit).slice("total: ".length)} (${c.segments.map((s) => `${s.key} ${formatCount(s.value)}`).join(", ") || "none"})`}</title>
                <rect x={c.x} y={l.plot.y} width={c.w} height={l.plot.h} class="hit" />
                {c.segments.map((s) => (
                  <rect x={c.x} y={s.y} width={c.w} height={s.h} class={seg(s.key)}>
                    <title>{tip(`${c.label}, ${s.key}`, s.value, p.unit)}</title>
                  </rect>
                ))}
              </g>
            ))}
          </svg>
          <details class="chart-data">
            <summary>Show the numbers</summary>
            <DataTable
              id={`${p.id}-table`}
              caption={p.title}
              rows={l.stacked}
              columns={[
                { label: p.labelHeader ?? "", cell: (c) => c.label, header: true },
                ...p.keys.map((k) => ({
                  label: k,
                  numeric: true,
                  cell: (c: (typeof l.stacked)[number]) => formatCount(c.segments.find((s) => s.key === k)?.value ?? 0),
                })),
                { label: "total", cell: (c) => formatCount(c.total), numeric: true },
              ]}
            />
          </details>
        </>
      )}
    </figure>
  );
}
