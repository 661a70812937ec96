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
export const PASSWORD_FIELDS = ["current_password", "new_password"] as const;
const PASSWORD_LABELS = { current_password: "Current password", new_password: "New password" };

type Props = {
  session: ConsoleSession;
  operators: OperatorRow[] | null;
  form?: { username?: string; role?: string };
  errors?: FieldErrors;
  general?: string | null;
  flash?: string | null;
  /** The signed-in account is the bootstrap admin (its password is the ADMIN_PASSWORD setting, not changed here). */
  bootstrap?: boolean;
  /** The own-password form's errors after a refused change. */
  password?: { errors?: FieldErrors; general?: string | null };
};

/** One's own password: every session of the account ends on a change (the API revokes all its tokens). */
function OwnPassword({ session, bootstrap, password }: Pick<Props, "session" | "bootstrap" | "password">) {
  if (bootstrap) {
    return (
      <section class="panel" aria-labelledby="password-h">
        <h2 id="password-h">Your password</h2>
        <p class="muted">This is the bootstrap admin: its password is the ADMIN_PASSWORD setting of the deployment, changed there, not here.</p>
      </section>
    );
  }
  return (
    <section aria-labelledby="password-h">
      <h2 id="password-h">Change your password</h2>
      <ErrorSummary errors={password?.errors} labels={PASSWORD_LABELS} general={password?.general} />
      <form method="post" action="/console/password" class="stack" aria-labelledby="password-h" novalidate>
        <CsrfField token={session.csrf} />
        <Field
          name="current_password"
          label={PASSWORD_LABELS.current_password}
          type="password"
          errors={password?.errors}
          required
          autocomplete="current-password"
        />
        <Field
          name="new_password"
          label={PASSWORD_LABELS.new_password}
          type="password"
          errors={password?.errors}
          required
          autocomplete="new-password"
          hint="At least 12 characters. Every session of this account ends: you log in again."
        />
        <div class="actions">
          <button type="submit">Change password</button>
        </div>
      </form>
    </section>
  );
}

/** Accounts: admins list, create and disable; everyone else sees their own account and no controls. */
export function OperatorsPage({ session, operators, form, errors, general, flash, bootstrap, password }: Props) {
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
      <OwnPassword session={session} bootstrap={bootstrap} password={password} />
    </Layout>
  );
}
