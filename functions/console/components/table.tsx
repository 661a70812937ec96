/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import { shortId } from "../lib/format";

export type Column<T> = { label: string; cell: (row: T) => Child; numeric?: boolean; header?: boolean };

let seq = 0;

/**
 * A data table with a caption, in a scrollable region that keyboard users can focus (wide tables on a phone).
 * A column with `header: true` becomes the row header (<th scope="row">).
 */
export function DataTable<T>({ caption, columns, rows, empty, id }: { caption: Child; columns: Column<T>[]; rows: T[]; empty?: Child; id?: string }) {
  const capId = id ? `${id}-caption` : `table-caption-${++seq}`;
  return (
    // biome-ignore lint/a11y/useSemanticElements: a focusable scroll container named by its caption, not a document section
    <div class="table-wrap" role="region" aria-labelledby={capId} tabindex={0}>
      <table id={id}>
        <caption id={capId}>{caption}</caption>
        <thead>
          <tr>
            {columns.map((col) => (
              <th scope="col" class={col.numeric ? "num" : undefined}>
                {col.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colspan={columns.length} class="empty">
                {empty ?? "Nothing to show."}
              </td>
            </tr>
          ) : (
            rows.map((r) => (
              <tr>
                {columns.map((col) =>
                  col.header ? (
                    <th scope="row" class={col.numeric ? "num" : undefined}>
                      {col.cell(r)}
                    </th>
                  ) : (
                    <td class={col.numeric ? "num" : undefined}>{col.cell(r)}</td>
                  ),
                )}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

const ID_KIND = { probes: "Probe", campaigns: "Campaign" } as const;

/** A short, monospaced link to a probe's or campaign's page (the full id in its title and accessible name); "—" without one. */
export function IdLink({ kind, id }: { kind: keyof typeof ID_KIND; id: string | null | undefined }) {
  if (!id) return <>—</>;
  return (
    <a href={`/console/${kind}/${encodeURIComponent(id)}`} class="mono" title={id} aria-label={`${ID_KIND[kind]} ${id}`}>
      {shortId(id)}
    </a>
  );
}
