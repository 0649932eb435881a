/**
 * comfy-edge CLI, run from a checkout of this repository (`npm run cli -- <command>` or
 * `node bin/comfy-edge.mjs <command>`; the package is not published, so never `npx comfy-edge`).
 *   tenants create|list|get|update|rotate-webhook-secret
 *   pools create|list
 *   pool-groups create|list|get|update|delete|region   (cli/pool-groups.ts)
 *   keys create|list|revoke
 *   runner-tokens create|list|revoke
 *   runner   (the GPU runner: reads GATEWAY_URL, RUNNER_TOKEN, COMFYUI_URL, ...; see docs/runner.md)
 * Admin commands read COMFY_EDGE_URL (default http://127.0.0.1:8787) and COMFY_EDGE_ADMIN_TOKEN (on the
 * local stack, falling back to ADMIN_TOKEN in ./.dev.vars, which is only sent to a loopback URL).
 * Add --json for raw JSON output.
 */
import { parseArgs } from "node:util";
import { AdminApiError, AdminClient } from "./admin-client.ts";
import { type Out, runAdmin } from "./commands.ts";
import { adminConfig, UsageError } from "./config.ts";
import { MODELS_USAGE, runModelsCommand } from "./models.ts";
import { POOL_GROUPS_USAGE, runPoolGroupsCommand } from "./pool-groups.ts";
import { runTenantCommand, TENANT_USAGE } from "./templates.ts";

const USAGE = `Usage: comfy-edge <command> [options]
  (from a checkout: npm run cli -- <command>, or node bin/comfy-edge.mjs <command>)

Admin (needs COMFY_EDGE_ADMIN_TOKEN; COMFY_EDGE_URL defaults to http://127.0.0.1:8787; on the local stack
the ADMIN_TOKEN in ./.dev.vars is used for a loopback COMFY_EDGE_URL only):
  tenants create --name <name> [--default-pool <pool>] [--rpm <n>] [--image-allowlist <hosts>] [--webhook-allowlist <hosts>]
  tenants list
  tenants get <tenant id>
  tenants update <tenant id> [--name <name>] [--default-pool <pool>|none] [--rpm <n>|none] [--max-queued-jobs <n>|none]
                 [--max-running-jobs <n>|none] [--queue-timeout-s <n>|none] [--image-allowlist <hosts>|none]
                 [--webhook-allowlist <hosts>|none] [--cache-all true|false]
                 [--cors-origins <origins>|none]   (browser origins for the tenant's keys, docs/cors.md;
                                                    none = the deployment's CORS_ALLOWED_ORIGINS)
  tenants rotate-webhook-secret <tenant id>   (the previous secret keeps signing for 24 h)
  pools create --name <name> [--region <region>] [--tenants <id,id>] [--shards <n>]
  pools list
  keys create --tenant <tenant id> [--scopes llm,jobs] [--name <name>] [--rpm <n>]
  keys list --tenant <tenant id>
  keys revoke <key id>
  runner-tokens create --pool <pool>
  runner-tokens list [--pool <pool>]
  runner-tokens revoke <token id>

Runner (on a GPU host, beside ComfyUI; settings from the environment, see docs/runner.md):
  runner      needs GATEWAY_URL and RUNNER_TOKEN; COMFYUI_URL (default http://127.0.0.1:8188, comma-separated
              for one job slot per ComfyUI), RUNNER_ID, MAX_INPUT_BYTES, JOB_TIMEOUT_S, METRICS_PORT, LOG_LEVEL

${TENANT_USAGE}

${MODELS_USAGE}

${POOL_GROUPS_USAGE}

Options: --json prints the API's JSON answer.`;

const OPTIONS = {
  name: { type: "string" },
  tenant: { type: "string" },
  tenants: { type: "string" },
  pool: { type: "string" },
  region: { type: "string" },
  scopes: { type: "string" },
  rpm: { type: "string" },
  "default-pool": { type: "string" },
  "image-allowlist": { type: "string" },
  "webhook-allowlist": { type: "string" },
  "max-queued-jobs": { type: "string" },
  "max-running-jobs": { type: "string" },
  "queue-timeout-s": { type: "string" },
  "cache-all": { type: "string" },
  "cors-origins": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function main(
  argv: string[],
  io: { out: Out; err: Out; env: NodeJS.ProcessEnv; cwd: string } = {
    out: (l) => console.log(l),
    err: (l) => console.error(l),
    env: process.env,
    cwd: process.cwd(),
  },
): Promise<number> {
  try {
    // Tenant commands (templates, run, jobs watch): cli/templates.ts, with an API key.
    const tenant = await runTenantCommand(argv, {
      ...io,
      // On a terminal the progress bar is redrawn in place.
      progress: process.stderr.isTTY ? (l) => process.stderr.write(`\r\x1b[2K${l}`) : undefined,
    });
    if (tenant !== null) return tenant;
    const models = await runModelsCommand(argv, io);
    if (models !== null) return models;
    const groups = await runPoolGroupsCommand(argv, io);
    if (groups !== null) return groups;
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    const [command, sub, ...rest] = positionals;
    if (!command || values.help) {
      io.out(USAGE);
      return command || values.help ? 0 : 2;
    }
    if (command === "runner") {
      if (sub !== undefined) throw new UsageError(`unknown command: runner ${sub}`);
      // Loaded only for this command: the admin commands stay light.
      const { runRunner } = await import("@comfy-edge/runner");
      return await runRunner(io.env, { err: io.err });
    }
    const client = new AdminClient(adminConfig(io.env, io.cwd));
    await runAdmin(command, sub, rest, values, client, io.out);
    return 0;
  } catch (err) {
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))
    ) {
      io.err(`error: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof AdminApiError) {
      io.err(`error: ${err.message} (${err.code}${err.status ? `, HTTP ${err.status}` : ""})`);
      return 1;
    }
    throw err;
  }
}
