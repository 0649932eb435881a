import { createApp } from "./app.ts";

export { KeyDO } from "./keys/key-do.ts";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
