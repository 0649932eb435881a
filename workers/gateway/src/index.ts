import { createApp } from "./app.ts";
import { StatsAggregator } from "./stats/aggregator.ts";
import { flushOnCron } from "./stats/flush.ts";

export { JobDO } from "./jobs/job-do.ts";
export { QueueSlotsDO } from "./jobs/queue-slots.ts";
export { KeyDO } from "./keys/key-do.ts";
export { PoolDO } from "./pools/pool-do.ts";

// One per isolate: request counts the app records and the cron (wrangler.toml [triggers]) flushes.
const stats = new StatsAggregator();
const app = createApp({ stats });

export default {
  fetch: app.fetch,
  scheduled: flushOnCron(stats),
} satisfies ExportedHandler<Env>;
