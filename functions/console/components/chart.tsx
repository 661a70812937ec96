/** @jsxImportSource hono/jsx */
import { type Datum, columnLayout, hbarLayout, lineLayout } from "../lib/charts";
import { formatCount } from "../lib/format";
import { DataTable } from "./table";

// SVG charts drawn on the server from the pure layouts in lib/charts.ts. Each is an image with a title and a
// description for screen readers, a <title> tooltip on every mark (hover), and the same numbers as a table.

/** `unit` is [singular, plural], e.g. ["probe", "probes"]. */
type ChartProps = { id: string; title: string; description?: string; data: Datum[]; unit?: [string, string]; labelHeader?: string; empty?: string };

const tip = (label: string, value: number, unit?: [string, string]) => `${label}: ${formatCount(value)}${unit ? ` ${value === 1 ? unit[0] : unit[1]}` : ""}`;

function ChartFrame({ id, title, description, data, unit, labelHeader, empty, children }: ChartProps & { children: any }) {
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
      {description ? <p class="visually-hidden" id={`${id}-desc`}>{description}</p> : null}
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
    <g class="axes" aria-hidden="true">
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
