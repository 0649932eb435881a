import { applyD1Migrations, type D1Migration, env } from "cloudflare:test";

/** vitest.config.ts injects the D1 migrations as a test-only binding. */
const testEnv = env as typeof env & { TEST_MIGRATIONS: D1Migration[] };
await applyD1Migrations(env.DB, testEnv.TEST_MIGRATIONS);
