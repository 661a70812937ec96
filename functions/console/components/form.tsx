/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import type { FieldErrors } from "../lib/forms";
import { CSRF_FIELD } from "../session";

export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name={CSRF_FIELD} value={token} />;
}

export type Option = { value: string; label: string };

type FieldProps = {
  name: string;
  label: string;
  /** The API's path for this field when it differs from the form's name (e.g. "schedule" vs "target.countries"). */
  errorKey?: string;
  type?: "text" | "password" | "search" | "number" | "datetime-local" | "email";
  value?: string | null;
  errors?: FieldErrors;
  hint?: Child;
  required?: boolean;
  /** Filter forms, where every field is optional, leave out the "(optional)" marks. */
  markOptional?: boolean;
  autocomplete?: string;
  placeholder?: string;
  inputmode?: "text" | "numeric" | "search";
  options?: Option[];
  list?: string;
  pattern?: string;
  size?: "s" | "m" | "l";
  /** A <textarea> with this many rows instead of an <input>. */
  rows?: number;
};

export const fieldId = (name: string) => `f-${name.replace(/[^A-Za-z0-9_-]/g, "-")}`;

/**
 * A labelled input or select. Its hint and its errors (the API's `details` for this field) are tied to it with
 * aria-describedby, and aria-invalid marks it, so a screen reader reads the message with the field.
 */
export function Field(p: FieldProps) {
  const id = fieldId(p.name);
  const errs = p.errors?.[p.errorKey ?? p.name] ?? [];
  const hintId = p.hint ? `${id}-hint` : undefined;
  const errId = errs.length ? `${id}-error` : undefined;
  const describedBy = [hintId, errId].filter(Boolean).join(" ") || undefined;
  const common = {
    id,
    name: p.name,
    "aria-describedby": describedBy,
    "aria-invalid": errs.length ? "true" : undefined,
    required: p.required,
  };
  return (
    <div class={`field field-${p.size ?? "m"}${errs.length ? " has-error" : ""}`}>
      <label for={id}>
        {p.label}
        {p.required || p.markOptional === false ? null : <span class="optional"> (optional)</span>}
      </label>
      {p.hint ? (
        <p class="hint" id={hintId}>
          {p.hint}
        </p>
      ) : null}
      {errs.length ? (
        <p class="field-error" id={errId}>
          <span class="visually-hidden">Error: </span>
          {errs.join("; ")}
        </p>
      ) : null}
      {p.options ? (
        <select {...common}>
          {p.options.map((o) => (
            <option value={o.value} selected={o.value === (p.value ?? "")}>
              {o.label}
            </option>
          ))}
        </select>
      ) : p.rows ? (
        <textarea {...common} rows={p.rows} placeholder={p.placeholder} spellcheck={false}>
          {p.value ?? ""}
        </textarea>
      ) : (
        <input
          {...common}
          type={p.type ?? "text"}
          value={p.type === "password" ? undefined : (p.value ?? undefined)}
          autocomplete={p.autocomplete}
          placeholder={p.placeholder}
          inputmode={p.inputmode}
          list={p.list}
          pattern={p.pattern}
          spellcheck={false}
        />
      )}
    </div>
  );
}

/**
 * The list of what is wrong, at the top of a form, each item linking to its field. It takes focus on load (autofocus)
 * so keyboard and screen-reader users land on it. `general` is a message that belongs to no field (e.g. a 409).
 */
export function ErrorSummary({ errors, labels, general }: { errors?: FieldErrors; labels: Record<string, string>; general?: string | null }) {
  const items = Object.entries(errors ?? {}).flatMap(([k, msgs]) => msgs.map((m) => ({ k, m })));
  if (!items.length && !general) return null;
  return (
    <div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex={-1} autofocus>
      <h2 id="error-summary-title">There is a problem</h2>
      <ul>
        {general ? <li>{general}</li> : null}
        {items.map(({ k, m }) =>
          k && labels[k] ? (
            <li>
              <a href={`#${fieldId(k)}`}>
                {labels[k]}: {m}
              </a>
            </li>
          ) : (
            <li>{m}</li>
          ),
        )}
      </ul>
    </div>
  );
}

/** The end of a list page's filter form: page size, Filter, and Clear back to the unfiltered page. */
export function FilterActions({ limit, label, errors, clearHref }: { limit?: string; label: string; errors?: FieldErrors; clearHref: string }) {
  return (
    <>
      <Field
        markOptional={false}
        name="limit"
        label={label}
        value={limit ?? "50"}
        errors={errors}
        options={["25", "50", "100", "250"].map((v) => ({ value: v, label: v }))}
      />
      <div class="actions">
        <button type="submit">Filter</button>
        <a class="button secondary" href={clearHref}>
          Clear
        </a>
      </div>
    </>
  );
}
