/** D1 access for pool manifests, runners' model reports and tenants' model hosts (migration 0010). */

import { Workflow } from "@comfy-edge/shared/contract/jobs";
import {
  ModelEntry,
  type PoolManifest,
  type PoolManifestBody,
  RunnerModelsReport,
  UrlModelsSetting,
} from "@comfy-edge/shared/contract/models";
import { z } from "zod";
import { iso } from "../lib/time.ts";

interface ManifestRow {
  pool: string;
  models: string;
  warmup: string | null;
  url_models: string | null;
  resync: number;
  digest: string;
  updated_at: number;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const Stored = z.object({
  models: z.array(ModelEntry),
  warmup: z.object({ workflow: Workflow }).nullable(),
  url_models: UrlModelsSetting.nullable(),
});

function toManifest(row: ManifestRow): PoolManifest {
  const stored = Stored.parse({
    models: JSON.parse(row.models),
    warmup: row.warmup === null ? null : JSON.parse(row.warmup),
    url_models: row.url_models === null ? null : JSON.parse(row.url_models),
  });
  return { pool: row.pool, digest: row.digest, ...stored, updated_at: iso(row.updated_at) };
}

/** The pool's manifest, or null when none was set. */
export async function getManifest(db: D1Database, pool: string): Promise<PoolManifest | null> {
  const row = await db.prepare("SELECT * FROM pool_manifests WHERE pool = ?").bind(pool).first<ManifestRow>();
  return row === null ? null : toManifest(row);
}

/** What a runner of a pool without a manifest syncs to: nothing. */
export function emptyManifest(pool: string): PoolManifest {
  return { pool, digest: "none", models: [], warmup: null, url_models: null, updated_at: iso(0) };
}

async function write(db: D1Database, pool: string, body: PoolManifestBody, resync: number): Promise<PoolManifest> {
  const models = JSON.stringify(body.models);
  const warmup = body.warmup ? JSON.stringify(body.warmup) : null;
  const urlModels = body.url_models ? JSON.stringify(body.url_models) : null;
  const digest = await sha256Hex(JSON.stringify([models, warmup, urlModels, resync]));
  const now = Date.now();
  await db
    .prepare(
      `INSERT INTO pool_manifests (pool, models, warmup, url_models, resync, digest, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (pool) DO UPDATE SET models = excluded.models, warmup = excluded.warmup,
         url_models = excluded.url_models, resync = excluded.resync, digest = excluded.digest, updated_at = excluded.updated_at`,
    )
    .bind(pool, models, warmup, urlModels, resync, digest, now)
    .run();
  const stored = await getManifest(db, pool);
  if (stored === null) throw new Error("manifest row missing after write");
  return stored;
}

export async function putManifest(db: D1Database, pool: string, body: PoolManifestBody): Promise<PoolManifest> {
  const current = await db
    .prepare("SELECT resync FROM pool_manifests WHERE pool = ?")
    .bind(pool)
    .first<{ resync: number }>();
  return write(db, pool, body, current?.resync ?? 0);
}

/** A new digest for the same manifest: every runner re-checks its files and runs the warmup again. */
export async function resyncManifest(db: D1Database, pool: string): Promise<PoolManifest | null> {
  const row = await db.prepare("SELECT * FROM pool_manifests WHERE pool = ?").bind(pool).first<ManifestRow>();
  if (row === null) return null;
  const current = toManifest(row);
  return write(db, pool, current, row.resync + 1);
}

export async function saveRunnerReport(db: D1Database, pool: string, report: RunnerModelsReport): Promise<void> {
  await db
    .prepare(
      `INSERT INTO runner_models (pool, runner_id, report, reported_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (pool, runner_id) DO UPDATE SET report = excluded.report, reported_at = excluded.reported_at`,
    )
    .bind(pool, report.runner_id, JSON.stringify(report), Date.now())
    .run();
}

export async function runnerReports(db: D1Database, pool: string) {
  const { results } = await db
    .prepare("SELECT report, reported_at FROM runner_models WHERE pool = ? ORDER BY runner_id")
    .bind(pool)
    .all<{ report: string; reported_at: number }>();
  return results.map((row) => ({
    ...RunnerModelsReport.parse(JSON.parse(row.report)),
    reported_at: iso(row.reported_at),
  }));
}

export async function getTenantModelHosts(db: D1Database, tenantId: string): Promise<string[]> {
  const row = await db
    .prepare("SELECT hosts FROM tenant_model_hosts WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ hosts: string }>();
  return row === null ? [] : z.array(z.string()).parse(JSON.parse(row.hosts));
}

export async function putTenantModelHosts(db: D1Database, tenantId: string, hosts: string[]): Promise<void> {
  await db
    .prepare(
      "INSERT INTO tenant_model_hosts (tenant_id, hosts) VALUES (?, ?) ON CONFLICT (tenant_id) DO UPDATE SET hosts = excluded.hosts",
    )
    .bind(tenantId, JSON.stringify(hosts))
    .run();
}
