import { dbFrom } from "../lib/db";
import { settingsFrom } from "../lib/settings";
import type { Surface } from "../lib/surface";
import { pruneLoginFailures } from "./lockout";
import { pruneRevokedTokens } from "./revocation";
import { authRoutes } from "./routes";

/** Login for every principal kind, logout and revocation, and operator accounts. */
export const authSurface: Surface = {
  name: "auth",
  routes: [authRoutes],
  cron: [
    {
      // Revoked tokens past their expiry and failure counts past their window decide nothing any more.
      name: "auth.prune",
      run: async (env, _ctx, at) => {
        const db = dbFrom(env.DB);
        await pruneRevokedTokens(db, at);
        await pruneLoginFailures(db, at, settingsFrom(env).abuse);
      },
    },
  ],
};
