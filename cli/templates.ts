/**
 * Tenant commands of the CLI (an API key in COMFY_EDGE_API_KEY): workflow templates, runs with a live
 * progress bar and the outputs saved, and watching a job.
 *   templates create -f workflow.json --name t2i [--description ..] [--pool p] [--inputs overrides.json]
 *   templates list | get <name> | delete <name>
 *   run <name[@version]> [--prompt ..] [--negative-prompt ..] [--seed N] [--steps N] [--cfg X] [--width N]
 *       [--height N] [--input name=value ...] [--out dir] [--no-wait]
 *   jobs watch <job id> [--out dir]
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Job } from "@comfy-edge/shared/contract";
import { UsageError } from "./config.ts";
import { eventLine, type WatchState } from "./event-line.ts";
import { type SseEvent, TenantClient } from "./tenant-client.ts";

type Out = (line: string) => void;
export interface TenantIo {
  out: Out;
  err: Out;
  env: NodeJS.ProcessEnv;
  /** Rewrites the progress line in place (a terminal); absent: one line per change. */
  progress?: (line: string) => void;
}

export const TENANT_USAGE = `Templates and jobs (needs COMFY_EDGE_API_KEY, an API key with the jobs scope):
  templates create -f <workflow.json> --name <name> [--description <text>] [--pool <pool>] [--inputs <overrides.json>]
  templates list
  templates get <name[@version]>
  templates delete <name>
  run <name[@version]> [--prompt <text>] [--negative-prompt <text>] [--seed <n|-1>] [--steps <n>] [--cfg <x>]
      [--width <n>] [--height <n>] [--input <name>=<value> ...] [--out <dir>] [--no-wait]
  jobs watch <job id> [--out <dir>]`;

const OPTIONS = {
  file: { type: "string", short: "f" },
  name: { type: "string" },
  description: { type: "string" },
  pool: { type: "string" },
  inputs: { type: "string" },
  prompt: { type: "string" },
  "negative-prompt": { type: "string" },
  seed: { type: "string" },
  steps: { type: "string" },
  cfg: { type: "string" },
  width: { type: "string" },
  height: { type: "string" },
  input: { type: "string", multiple: true },
  out: { type: "string" },
  "no-wait": { type: "boolean" },
  json: { type: "boolean" },
} as const;

/** `--seed -1` reads as a value, not an option. */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (/^--[a-z-]+$/.test(a) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

type TemplateInput = { name: string; kind: string; default: unknown; hidden?: boolean };

/** A value typed for its input (numbers and booleans parsed; the gateway checks ranges and enums). */
function typed(input: TemplateInput | undefined, name: string, raw: string): unknown {
  const kind = input?.kind;
  if (kind === "int" || kind === "float") {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name}: expected a number, got "${raw}"`);
    return n;
  }
  if (kind === "boolean") {
    if (raw !== "true" && raw !== "false") throw new UsageError(`--${name}: expected true or false, got "${raw}"`);
    return raw === "true";
  }
  return raw;
}

async function watch(client: TenantClient, jobId: string, outDir: string | undefined, io: TenantIo): Promise<number> {
  const show = io.progress ?? io.err;
  let last = "";
  const state: WatchState = { previews: 0 };
  await client.events(jobId, (e: SseEvent) => {
    let data: Record<string, unknown> = {};
    try {
      data = JSON.parse(e.data) as Record<string, unknown>;
    } catch {
      return;
    }
    const line = eventLine(e.event, data, state);
    if (line && line !== last) show(line);
    last = line;
  });
  if (io.progress) io.err("");
  const { data: job } = await client.json<Job>("GET", `/v1/jobs/${encodeURIComponent(jobId)}`);
  if (job.status !== "succeeded") {
    io.out(`job ${job.id} ${job.status}${job.error ? `: ${job.error.code}: ${job.error.message}` : ""}`);
    return 1;
  }
  if (job.template) io.out(`template ${job.template.ref}, inputs ${JSON.stringify(job.template.inputs)}`);
  if (outDir) {
    await mkdir(outDir, { recursive: true });
    for (const o of job.outputs) {
      const file = path.join(
        outDir,
        `${job.id.slice(4, 16)}-${o.index}-${path.basename(o.filename).replace(/[^\w.-]/g, "_")}`,
      );
      await writeFile(file, await client.download(job.id, o.index));
      io.out(`saved ${file}`);
    }
  } else for (const o of job.outputs) io.out(`output ${o.index}: ${o.url}`);
  io.out(`job ${job.id} succeeded (run ${job.stats.run_ms ?? "?"} ms)`);
  return 0;
}

async function run(client: TenantClient, ref: string, values: Record<string, unknown>, io: TenantIo): Promise<number> {
  const { data: template } = await client.json<{ inputs: TemplateInput[] }>(
    "GET",
    `/v1/templates/${encodeURIComponent(ref)}`,
  );
  const byName = new Map(template.inputs.map((i) => [i.name, i]));
  const inputs: Record<string, unknown> = {};
  for (const flag of ["prompt", "negative-prompt", "seed", "steps", "cfg", "width", "height"]) {
    const raw = values[flag];
    if (typeof raw !== "string") continue;
    const name = flag.replace("-", "_");
    inputs[name] = typed(byName.get(name), flag, raw);
  }
  for (const pair of (values.input as string[] | undefined) ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--input: expected <name>=<value>, got "${pair}"`);
    const name = pair.slice(0, eq);
    inputs[name] = typed(byName.get(name), `input ${name}`, pair.slice(eq + 1));
  }
  const { data: job, headers } = await client.json<Job>("POST", `/v1/templates/${encodeURIComponent(ref)}/runs`, {
    inputs,
  });
  io.out(`job ${job.id} ${job.status}${headers.get("x-cache") === "HIT" ? " (x-cache: HIT)" : ""}`);
  if (values["no-wait"]) return 0;
  return watch(client, job.id, values.out as string | undefined, io);
}

async function templates(
  client: TenantClient,
  sub: string | undefined,
  rest: string[],
  values: Record<string, unknown>,
  io: TenantIo,
) {
  const print = (data: unknown, text: string) => io.out(values.json ? JSON.stringify(data, null, 2) : text);
  if (sub === "create") {
    if (typeof values.file !== "string" || typeof values.name !== "string")
      throw new UsageError("templates create needs -f <workflow.json> and --name <name>");
    const workflow = JSON.parse(await readFile(values.file, "utf8")) as unknown;
    const overrides =
      typeof values.inputs === "string" ? (JSON.parse(await readFile(values.inputs, "utf8")) as unknown) : undefined;
    const body = {
      name: values.name,
      workflow:
        typeof workflow === "object" && workflow && "workflow" in workflow && !("nodes" in workflow)
          ? workflow.workflow
          : workflow,
      ...(values.description ? { description: values.description } : {}),
      ...(values.pool ? { pool: values.pool } : {}),
      ...(overrides ? { inputs: overrides } : {}),
    };
    const { data } = await client.json<{ ref: string; inputs: TemplateInput[] }>("POST", "/v1/templates", body);
    const lines = data.inputs
      .filter((i) => !i.hidden)
      .map((i) => `  ${i.name.padEnd(22)} ${i.kind.padEnd(7)} default ${JSON.stringify(i.default)?.slice(0, 60)}`);
    print(data, `template ${data.ref} created; inputs:\n${lines.join("\n")}`);
  } else if (sub === "list") {
    const { data } = await client.json<{ data: Array<{ ref: string; description: string | null }> }>(
      "GET",
      "/v1/templates",
    );
    print(
      data,
      data.data.map((t) => `${t.ref}${t.description ? `  ${t.description}` : ""}`).join("\n") || "no templates",
    );
  } else if (sub === "get" && rest[0]) {
    const { data } = await client.json<{ ref: string; version: number; inputs: TemplateInput[] }>(
      "GET",
      `/v1/templates/${encodeURIComponent(rest[0])}`,
    );
    print(
      data,
      [
        `${data.ref.split("@")[0]}@${data.version}`,
        ...data.inputs.map((i) => `  ${i.name} (${i.kind}) = ${JSON.stringify(i.default)}`),
      ].join("\n"),
    );
  } else if (sub === "delete" && rest[0]) {
    const { data } = await client.json("DELETE", `/v1/templates/${encodeURIComponent(rest[0])}`);
    print(data, `template ${rest[0]} deleted`);
  } else throw new UsageError(`unknown command: templates ${sub ?? ""}`.trim());
  return 0;
}

/** Runs a tenant command; null if `argv` is not one. */
export async function runTenantCommand(argv: string[], io: TenantIo): Promise<number | null> {
  const [command] = argv;
  if (command !== "templates" && command !== "run" && !(command === "jobs" && argv[1] === "watch")) return null;
  const { values, positionals } = parseArgs({
    args: joinNegativeValues(argv),
    options: OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  const [, sub, ...rest] = positionals;
  const client = new TenantClient(io.env);
  if (command === "templates") return templates(client, sub, rest, values, io);
  if (command === "run") {
    if (!sub) throw new UsageError("run needs a template name");
    return run(client, sub, values, io);
  }
  if (!rest[0]) throw new UsageError("jobs watch needs a job id");
  return watch(client, rest[0], values.out, io);
}
