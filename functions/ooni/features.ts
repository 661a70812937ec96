/** probe-cli's check-in `conf.features`: a map of booleans it caches for 24 hours. */
export type FeatureMap = Record<string, boolean>;

/** What OONI's backend answers today (ooni/backend probe_services.py): tor and openvpn off, webconnectivity 0.5 on. */
export const OONI_DEFAULT_FEATURES: FeatureMap = {
  torsf_enabled: false,
  vanilla_tor_enabled: false,
  openvpn_enabled: false,
  "webconnectivity_0.5": true,
};

/**
 * The features one probe gets: the service's map, then each targeting campaign's overrides in order (oldest
 * campaign first, so the newest one wins a disagreement). A flag no one mentions is left out.
 */
export function featuresFor(base: FeatureMap, overrides: readonly FeatureMap[]): FeatureMap {
  const out: FeatureMap = { ...base };
  for (const o of overrides) Object.assign(out, o);
  return out;
}
