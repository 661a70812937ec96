/** @jsxImportSource hono/jsx */
import type { OperatorRow } from "../../../schema/operators";
import { OPERATOR_ROLES } from "../../../schema/operators";
import { CsrfField, ErrorSummary, Field } from "../components/form";
import { Flash, Layout, Time } from "../components/layout";
import { DataTable } from "../components/table";
import { utcMinute } from "../lib/format";
import type { FieldErrors } from "../lib/forms";
import { type ConsoleSession, can } from "../session";

export const OPERATOR_FIELDS = ["username", "password", "role"] as const;
const LABELS = { username: "Username", password: "Password", role: "Role" };

type Props = {
  session: ConsoleSession;
  operators: OperatorRow[] | null;
  form?: { username?: string; role?: string };
  errors?: FieldErrors;
  general?: string | null;
  flash?: string | null;
};

/** Accounts: admins list, create and disable; everyone else sees their own account and no controls. */
export function OperatorsPage({ session, operators, form, errors, general, flash }: Props) {
  const admin = can(session, "admin");
  return (
    <Layout title="Operators" session={session} current="operators">
      <h1>Operators</h1>
      <Flash message={flash} />
      {!admin ? (
        <section class="panel">
          <p>
            You are signed in as <strong>{session.principal.sub}</strong> with the <strong>{session.principal.role}</strong> role.
          </p>
          <p class="muted">Only admins list, create and disable operator accounts.</p>
        </section>
      ) : (
        <>
          <DataTable
            id="operators"
            caption="Operator accounts (the bootstrap admin is configured, not listed)"
            rows={operators ?? []}
            empty="No operator accounts yet."
            columns={[
              { label: "Username", header: true, cell: (o) => o.username },
              { label: "Role", cell: (o) => o.role },
              { label: "Created", cell: (o) => <Time iso={o.createdAt} text={utcMinute(o.createdAt)} /> },
              { label: "Created by", cell: (o) => o.createdBy },
              {
                label: "Status",
                cell: (o) =>
                  o.disabledAt ? (
                    <span class="state state-disabled">disabled {utcMinute(o.disabledAt)}</span>
                  ) : (
                    <span class="state state-enabled">enabled</span>
                  ),
              },
              {
                label: "Actions",
                cell: (o) =>
                  o.disabledAt || o.username === session.principal.sub ? (
                    "—"
                  ) : (
                    <form method="post" action={`/console/operators/${encodeURIComponent(o.username)}/disable`}>
                      <CsrfField token={session.csrf} />
                      <button type="submit" class="danger" aria-label={`Disable ${o.username}`}>
                        Disable
                      </button>
                    </form>
                  ),
              },
            ]}
          />
          <h2 id="create-h">Create an operator</h2>
          <ErrorSummary errors={errors} labels={LABELS} general={general} />
          <form method="post" action="/console/operators" class="stack" aria-labelledby="create-h" novalidate>
            <CsrfField token={session.csrf} />
            <Field
              name="username"
              label={LABELS.username}
              value={form?.username}
              errors={errors}
              required
              autocomplete="off"
              hint="3-64 characters: a letter first, then a-z, 0-9, _ . -"
            />
            <Field
              name="password"
              label={LABELS.password}
              type="password"
              errors={errors}
              required
              autocomplete="new-password"
              hint="At least 12 characters."
            />
            <Field
              name="role"
              label={LABELS.role}
              value={form?.role ?? "viewer"}
              errors={errors}
              required
              options={OPERATOR_ROLES.map((r) => ({
                value: r,
                label: r === "viewer" ? "viewer (read only)" : r === "operator" ? "operator (campaigns)" : "admin (accounts too)",
              }))}
            />
            <div class="actions">
              <button type="submit">Create operator</button>
            </div>
          </form>
        </>
      )}
    </Layout>
  );
}
