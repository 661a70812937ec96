/** @jsxImportSource hono/jsx */
import { ErrorSummary, Field } from "../components/form";
import { Flash, Layout } from "../components/layout";
import type { FieldErrors } from "../lib/forms";
import { CSRF_FIELD } from "../session";

export const LOGIN_REASONS: Record<string, string> = {
  expired: "Your session has ended (it expired or the account changed). Please log in again.",
  "logged-out": "You have logged out.",
  "password-changed": "Your password was changed and every session of your account ended. Log in with the new password.",
};

type Props = { csrf: string; next?: string; username?: string; errors?: FieldErrors; general?: string | null; reason?: string };

export function LoginPage({ csrf, next, username, errors, general, reason }: Props) {
  const notice = reason ? LOGIN_REASONS[reason] : undefined;
  return (
    <Layout title="Log in">
      <h1>Log in to the operator console</h1>
      <Flash message={notice} />
      <ErrorSummary errors={errors} labels={{ username: "Username", password: "Password" }} general={general} />
      <form method="post" action="/console/login" class="stack" novalidate>
        <input type="hidden" name={CSRF_FIELD} value={csrf} />
        {next ? <input type="hidden" name="next" value={next} /> : null}
        <Field name="username" label="Username" value={username} errors={errors} required autocomplete="username" />
        <Field name="password" label="Password" type="password" errors={errors} required autocomplete="current-password" />
        <div class="actions">
          <button type="submit">Log in</button>
        </div>
      </form>
      <p class="muted">Operator accounts and roles are the API's: an admin creates them; a viewer sees but cannot change.</p>
    </Layout>
  );
}
