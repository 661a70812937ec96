/** probe-cli's check-in body (model.OOAPICheckInConfig): every field always present. */
export const checkInBody = (over: Record<string, unknown> = {}) => ({
  charging: false,
  on_wifi: true,
  platform: "android",
  probe_asn: "AS1234",
  probe_cc: "IT",
  run_type: "timed",
  software_name: "ooniprobe-android",
  software_version: "3.8.0",
  web_connectivity: { category_codes: [] },
  ...over,
});
