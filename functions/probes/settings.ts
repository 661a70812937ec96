import { cachedSettings, readInt } from "../lib/config";

/** The registry's own settings, in the one dialect (lib/config.ts). */
export type ProbesSettings = {
  /**
   * REGISTER_REPLAY_WINDOW_S: how long a retried registration (same Idempotency-Key, or the same body carrying a
   * password) gets the first one's client_id instead of a second probe. 0 turns recognition off.
   */
  registerReplayWindowS: number;
};

export const probesSettings = cachedSettings(
  (env: Env): ProbesSettings => ({
    registerReplayWindowS: readInt(env, "REGISTER_REPLAY_WINDOW_S", { fallback: 86_400, min: 0, max: 30 * 86_400 }),
  }),
);
