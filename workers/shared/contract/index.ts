/**
 * The wire contract shared by gateway, queue consumer, runner and CLI. Every boundary parses with these
 * schemas (never a cast).
 */
export * from "./admin.ts";
export * from "./common.ts";
export * from "./job-events.ts";
export * from "./jobs.ts";
export * from "./pool-groups.ts";
export * from "./queue.ts";
export * from "./rpc.ts";
export * from "./runner.ts";
export * from "./webhooks.ts";
