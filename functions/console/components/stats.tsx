/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";

/** One figure of a summary: its label, its value, and the value's class and id where a page or a test needs them. */
export type Stat = { label: Child; value: Child; class?: string; id?: string };

/** A page's row of headline figures (`dl.stats`: a label over each value), named for assistive technology by `label`. */
export function Stats({ label, items }: { label?: string; items: Stat[] }) {
  return (
    <dl class="stats" aria-label={label}>
      {items.map((s) => (
        <div>
          <dt>{s.label}</dt>
          <dd class={s.class} id={s.id}>
            {s.value}
          </dd>
        </div>
      ))}
    </dl>
  );
}
