/**
 * The local stack for cross-component tests and benchmarks: gateway + queue consumer on workerd through
 * programmatic Miniflare (no wrangler dev proxy), configured from the same wrangler.toml files, with
 * real local D1/KV/R2/Queues/Durable Objects and the D1 migrations applied.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare, type WorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from "wrangler";
import { type BuiltWorkers, buildWorkers, ROOT } from "./build.ts";

export interface StackOptions {
  /** Extra/overriding vars for both workers (e.g. ALLOW_PRIVATE_URLS). */
  vars?: Record<string, string>;
  /**
   * Directory for the state (D1, KV, R2, Durable Objects). Default: a fresh directory on tmpfs
   * (/dev/shm) when there is one, removed on close: local disk fsyncs would otherwise dominate every
   * Durable Object write (about 2 ms each here), which production storage does not have.
   */
  persistDir?: string;
  port?: number;
  built?: BuiltWorkers;
  /** Fixed secrets (a restarted stack must keep them: keys, runner tokens and leases carry HMAC tags). */
  secrets?: { adminToken: string; signingSecret: string };
  /** Open workerd's V8 inspector on this port (CPU profiles in benchmarks). */
  inspectorPort?: number;
  /** More workers in the same runtime (benchmarks' floor worker, test doubles), routed by their `routes`. */
  extraWorkers?: WorkerOptions[];
}

/** The slice of R2 that tests read (Miniflare's binding, typed without the Workers types). */
export interface TestBucket {
  head(key: string): Promise<{ size: number } | null>;
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer>; size: number } | null>;
  list(options: { prefix: string }): Promise<{ objects: Array<{ key: string; size: number }> }>;
}

export interface Stack {
  url: string;
  /** The FILES bucket. */
  files(): Promise<TestBucket>;
  adminToken: string;
  signingSecret: string;
  mf: Miniflare;
  /** Calls the admin API; throws on a non-2xx answer. */
  admin<T = Record<string, unknown>>(path: string, body?: unknown, method?: string): Promise<T>;
  close(): Promise<void>;
}

const PICK = [
  "compatibilityDate",
  "compatibilityFlags",
  "bindings",
  "kvNamespaces",
  "r2Buckets",
  "d1Databases",
  "queueProducers",
  "queueConsumers",
  "durableObjects",
  "ratelimits",
  "serviceBindings",
] as const;

function optionsFrom(configPath: string): Partial<WorkerOptions> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(ROOT, configPath));
  const source = workerOptions as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of PICK) if (source[key] !== undefined) out[key] = source[key];
  return out as Partial<WorkerOptions>;
}

export function migrationStatements(): string[] {
  const dir = join(ROOT, "workers/gateway/migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) => unstable_splitSqlQuery(readFileSync(join(dir, f), "utf8")));
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const built = options.built ?? (await buildWorkers());
  const adminToken = options.secrets?.adminToken ?? `adm_test_${randomBytes(12).toString("hex")}`;
  const signingSecret = options.secrets?.signingSecret ?? randomBytes(32).toString("base64url");
  const secrets = {
    ADMIN_TOKEN: adminToken,
    SIGNING_SECRET: signingSecret,
    R2_ACCESS_KEY_ID: "local-access-key",
    R2_SECRET_ACCESS_KEY: "local-secret-key",
    ...options.vars,
  };
  const gateway = optionsFrom("wrangler.toml");
  const consumer = optionsFrom("workers/queue-consumer/wrangler.toml");
  const scratch = options.persistDir
    ? null
    : mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "comfy-edge-"));
  const persist = options.persistDir ?? scratch!;
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: options.port ?? 0,
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
    d1Persist: join(persist, "d1"),
    kvPersist: join(persist, "kv"),
    r2Persist: join(persist, "r2"),
    durableObjectsPersist: join(persist, "do"),
    cachePersist: join(persist, "cache"),
    workers: [
      {
        ...gateway,
        name: "comfy-edge-gateway",
        modules: true,
        scriptPath: built.gateway,
        bindings: { ...(gateway.bindings as Record<string, string>), ...secrets },
      } as WorkerOptions,
      {
        ...consumer,
        name: "comfy-edge-queue-consumer",
        modules: true,
        scriptPath: built.consumer,
        bindings: {
          ...(consumer.bindings as Record<string, string>),
          R2_ACCESS_KEY_ID: "local-access-key",
          R2_SECRET_ACCESS_KEY: "local-secret-key",
          ...options.vars,
        },
      } as WorkerOptions,
      ...(options.extraWorkers ?? []),
    ],
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const db = await mf.getD1Database("DB", "comfy-edge-gateway");
  const applied = await db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tenants'")
    .first()
    .catch(() => null);
  if (!applied) await db.batch(migrationStatements().map((sql) => db.prepare(sql)));

  async function admin<T>(path: string, body?: unknown, method?: string): Promise<T> {
    const res = await fetch(`${url}${path}`, {
      method: method ?? (body === undefined ? "GET" : "POST"),
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`admin ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }

  const files = async () => (await mf.getR2Bucket("FILES", "comfy-edge-gateway")) as unknown as TestBucket;
  const close = async () => {
    await mf.dispose();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  };
  return { url, adminToken, signingSecret, mf, admin, files, close };
}
