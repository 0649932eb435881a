/**
 * The local stack for cross-component tests and benchmarks: gateway + queue consumer on workerd through
 * programmatic Miniflare (no wrangler dev proxy), configured from the same wrangler.toml files, with
 * real local D1/KV/R2/Queues/Durable Objects and the D1 migrations applied.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare, type V4WorkerOptions as WorkerOptions } from "miniflare";
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
  /**
   * Fixed secrets (a restarted stack must keep them: keys, runner tokens and leases carry HMAC tags). The
   * webhook secret key and the local S3 credentials are derived from the signing secret unless given, so a
   * restarted stack still opens the webhook secrets it sealed and honours the URLs it presigned.
   */
  secrets?: { adminToken: string; signingSecret: string; webhookSecretKey?: string };
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
  /** Credentials of the local R2 S3 endpoint (random per stack; never the committed config's). */
  s3Credentials: { accessKeyId: string; secretAccessKey: string };
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

/**
 * Reads a worker's bindings from its wrangler config. Quietly: wrangler would log "Using secrets defined in
 * process.env" and warn "Missing required secrets" on every start, though the stack supplies the secrets
 * itself (below). The call is synchronous, so the log level is restored before anything else runs.
 */
function readWorkerOptions(configPath: string) {
  const level = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = "error";
  try {
    return unstable_getMiniflareWorkerOptions(join(ROOT, configPath));
  } finally {
    if (level === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = level;
  }
}

function optionsFrom(configPath: string): Partial<WorkerOptions> {
  const { workerOptions } = readWorkerOptions(configPath);
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
  const derive = (label: string) =>
    options.secrets
      ? createHash("sha256").update(`${label}:${signingSecret}`).digest("base64url")
      : randomBytes(32).toString("base64url");
  const webhookSecretKey = options.secrets?.webhookSecretKey ?? derive("webhook-secret-key");
  const s3Credentials = { accessKeyId: derive("s3-access-key-id").slice(0, 20), secretAccessKey: derive("s3-secret") };
  const shared = {
    WEBHOOK_SECRET_KEY: webhookSecretKey,
    R2_ACCESS_KEY_ID: s3Credentials.accessKeyId,
    R2_SECRET_ACCESS_KEY: s3Credentials.secretAccessKey,
  };
  const secrets = { ADMIN_TOKEN: adminToken, SIGNING_SECRET: signingSecret, ...shared, ...options.vars };
  const gateway = optionsFrom("wrangler.toml");
  // The local S3 endpoint of the gateway's buckets checks these credentials.
  const buckets = gateway.r2Buckets ?? {};
  gateway.r2Buckets = Array.isArray(buckets)
    ? Object.fromEntries(buckets.map((name) => [name, { id: name, s3Credentials }]))
    : Object.fromEntries(
        Object.entries(buckets).map(([name, b]) => [
          name,
          typeof b === "string" ? { id: b, s3Credentials } : { ...(b as { id: string }), s3Credentials },
        ]),
      );
  const consumer = optionsFrom("workers/queue-consumer/wrangler.toml");
  const scratch = options.persistDir
    ? null
    : mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "comfy-edge-"));
  const persist = options.persistDir ?? scratch!;
  // wrangler reads the configs into Miniflare 4's option shape; Miniflare 5 converts them.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: options.port ?? 0,
      ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
      // Miniflare 5 keeps every binding's state under one root (its converter drops the v4 *Persist paths),
      // so a restarted stack on the same persistDir finds its D1, KV, R2 and Durable Objects again.
      resourcePersistencePath: persist,
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
            ...shared,
            ...options.vars,
          },
        } as WorkerOptions,
        ...(options.extraWorkers ?? []),
      ],
    }),
  );
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
  return { url, adminToken, signingSecret, s3Credentials, mf, admin, files, close };
}
