import { randomBytes } from "node:crypto";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const root = import.meta.dirname;

export default defineConfig({
  test: {
    projects: [
      {
        // Gateway (and everything it imports) on workerd with real local KV/D1/R2/Queues/DOs.
        plugins: [
          cloudflareTest(async () => ({
            main: "./workers/gateway/src/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ADMIN_TOKEN: "test-admin-token",
                SIGNING_SECRET: "test-signing-secret-0123456789abcdef",
                WEBHOOK_SECRET_KEY: randomBytes(32).toString("base64url"),
                // Random per run: no credentials are committed (the local S3 endpoint is not used here).
                R2_ACCESS_KEY_ID: `test_${randomBytes(8).toString("hex")}`,
                R2_SECRET_ACCESS_KEY: randomBytes(30).toString("base64url"),
                TEST_MIGRATIONS: await readD1Migrations(path.join(root, "workers/gateway/migrations")),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          // A test's first request cold-starts workerd's Durable Objects and D1; on a loaded 2-core CI machine that
          // alone can pass vitest's 5 s default. A limit for hangs, not a timing assertion.
          testTimeout: 30_000,
          hookTimeout: 30_000,
          include: [
            "workers/gateway/**/*.test.ts",
            "workers/queue-consumer/**/*.test.ts",
            // The URL guard's pure checks run on both runtimes: URL parsing must agree on workerd and Node.
            "workers/shared/url-guard/check.test.ts",
            "workers/shared/url-guard/data-url.test.ts",
            "workers/shared/url-guard/ip.test.ts",
            "workers/shared/url-guard/policy.test.ts",
          ],
          setupFiles: ["./workers/gateway/test/setup.ts"],
        },
      },
      {
        test: {
          name: "node",
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
          include: [
            "workers/shared/**/*.test.ts",
            "runner/**/*.test.ts",
            "test/**/*.test.ts",
            "cli/**/*.test.ts",
            "scripts/**/*.test.ts",
          ],
        },
      },
    ],
  },
});
