/**
 * The one structured logger: one JSON object per line, which Workers Logs (observability) indexes by key.
 * `where` names the component; everything else is context. Never log secrets or push tokens.
 */
type Fields = Record<string, unknown>;

function emit(level: "info" | "warn" | "error", where: string, message: string, fields: Fields = {}): void {
  const line = JSON.stringify({ level, where, message, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export const log = {
  info: (where: string, message: string, fields?: Fields) => emit("info", where, message, fields),
  warn: (where: string, message: string, fields?: Fields) => emit("warn", where, message, fields),
  error: (where: string, message: string, fields?: Fields) => emit("error", where, message, fields),
};

/** A caught value as a log field. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
