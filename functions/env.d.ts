// Secrets and optional settings that `wrangler types` cannot see (they come from `wrangler secret put` / .dev.vars).
declare namespace Cloudflare {
  interface Env {
    JWT_SECRET: string;
    ADMIN_PASSWORD: string;
  }
}
