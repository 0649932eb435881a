/**
 * The additive count columns of the `request_stats` table (migrations 0012, 0016), in table order: written
 * and summed on conflict by flush.ts, read and added up by report.ts. A new count column goes here once.
 */
export const COUNT_COLUMNS = [
  "requests",
  "status_2xx",
  "status_3xx",
  "status_4xx",
  "status_5xx",
  "status_expected",
  "latency_ms_sum",
] as const;
