/** @jsxImportSource hono/jsx */
import { Layout } from "../components/layout";
import type { ConsoleSession } from "../session";

const TITLES: Record<number, string> = {
  400: "That request was not valid",
  403: "You are not allowed to do that",
  404: "Page not found",
  409: "That conflicts with the current state",
  500: "Something went wrong",
};

export function ErrorPage({ status, message, session }: { status: number; message: string; session?: ConsoleSession | null }) {
  const title = TITLES[status] ?? "Something went wrong";
  return (
    <Layout title={title} session={session}>
      <h1>{title}</h1>
      <p role="alert">{message}</p>
      <p>
        <a href="/console">Back to the overview</a>
      </p>
    </Layout>
  );
}
