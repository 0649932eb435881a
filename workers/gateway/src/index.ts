import { createApp } from "./app.ts";

export { JobDO } from "./jobs/job-do.ts";
export { QueueSlotsDO } from "./jobs/queue-slots.ts";
export { KeyDO } from "./keys/key-do.ts";
export { PoolDO } from "./pools/pool-do.ts";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
