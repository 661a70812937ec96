/** The surface's logger until functions/lib/log.ts lands: one JSON line per message. */
export const log = {
  info: (message: string, fields: Record<string, unknown> = {}) => console.log(JSON.stringify({ level: "info", surface: "school", message, ...fields })),
  warn: (message: string, fields: Record<string, unknown> = {}) => console.warn(JSON.stringify({ level: "warn", surface: "school", message, ...fields })),
  error: (message: string, fields: Record<string, unknown> = {}) => console.error(JSON.stringify({ level: "error", surface: "school", message, ...fields })),
};
