/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import type { ConsoleSession } from "../session";
import { CsrfField } from "./form";

/** The main navigation. Surfaces that land later (campaigns, minions, school, mesh) add their entry here. */
export type NavItem = { key: string; href: string; label: string };
export const NAV: NavItem[] = [
  { key: "overview", href: "/console", label: "Overview" },
  { key: "probes", href: "/console/probes", label: "Probes" },
  { key: "campaigns", href: "/console/campaigns", label: "Campaigns" },
  { key: "minions", href: "/console/minions", label: "Minions" },
  { key: "school", href: "/console/school", label: "School" },
  { key: "test-lists", href: "/console/test-lists", label: "Test lists" },
  { key: "mesh", href: "/console/mesh", label: "Mesh" },
  { key: "events", href: "/console/events", label: "Events" },
  { key: "operators", href: "/console/operators", label: "Operators" },
  { key: "audit", href: "/console/audit", label: "Audit" },
];

export const ASSET_CSS = "/console/assets/console.css";

type LayoutProps = { title: string; session?: ConsoleSession | null; current?: string; children?: Child };

/** Every console page: skip link, header with navigation and account, one <main> landmark, one <h1> from the page. */
export function Layout({ title, session, current, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${title} · edge-orchestra console`}</title>
        <link rel="stylesheet" href={ASSET_CSS} />
      </head>
      <body>
        <a class="skip-link" href="#main">
          Skip to main content
        </a>
        <header class="site-header">
          <a class="brand" href="/console">
            edge-orchestra
          </a>
          {session ? (
            <nav aria-label="Main">
              <ul>
                {NAV.map((n) => (
                  <li>
                    <a href={n.href} aria-current={n.key === current ? "page" : undefined}>
                      {n.label}
                    </a>
                  </li>
                ))}
              </ul>
            </nav>
          ) : null}
          {session ? (
            <div class="account">
              <span>
                <span class="visually-hidden">Signed in as </span>
                {session.principal.sub} <span class={`role role-${session.principal.role}`}>{session.principal.role}</span>
              </span>
              <form method="post" action="/console/logout">
                <CsrfField token={session.csrf} />
                <button type="submit" class="button-link">
                  Log out
                </button>
              </form>
            </div>
          ) : null}
        </header>
        <main id="main" tabindex={-1}>
          {children}
        </main>
      </body>
    </html>
  );
}

/** A notice after a change ("Operator alice created."), announced politely to screen readers. */
export function Flash({ message }: { message?: string | null }) {
  if (!message) return null;
  return (
    <p class="flash" role="status">
      {message}
    </p>
  );
}

/** Inline `<time>` with a machine-readable value and a readable text. */
export function Time({ iso, text }: { iso: string | null | undefined; text: string }) {
  if (!iso) return <span class="muted">never</span>;
  return (
    <time datetime={iso} title={iso}>
      {text}
    </time>
  );
}
