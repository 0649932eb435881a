/**
 * Templates in D1 (migration 0009, STORAGE.md "Templates"): one row per template and tenant, one immutable
 * row per version with its API-format graph and typed inputs. A new version takes the next number in the
 * same batch that writes it, so two concurrent creates get two versions and nothing is half-written.
 */
import type { Workflow } from "@comfy-edge/shared/contract";
import type { TemplateInput } from "./detect.ts";

export interface TemplateRow {
  name: string;
  latest_version: number;
  description: string | null;
  pool: string | null;
  images_model: string | null;
  created_at: number;
  updated_at: number;
}

export interface VersionRow {
  version: number;
  description: string | null;
  pool: string | null;
  source: "ui" | "api";
  created_at: number;
}

export interface StoredVersion extends VersionRow {
  name: string;
  inputs: TemplateInput[];
  workflow: Workflow;
}

export interface NewVersion {
  description: string | null;
  pool: string | null;
  source: "ui" | "api";
  inputs: TemplateInput[];
  workflow: Workflow;
  /** Images API model name and bindings (JSON); null: not served as an image model. */
  images_model?: string | null;
  images_bindings?: string | null;
}

export async function createVersion(db: D1Database, tenantId: string, name: string, v: NewVersion): Promise<number> {
  const now = Date.now();
  const [, inserted] = await db.batch([
    db
      .prepare(
        `INSERT INTO templates (tenant_id, name, latest_version, description, pool, images_model, images_bindings, created_at, updated_at)
         VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, name) DO UPDATE SET latest_version = latest_version + 1,
           description = excluded.description, pool = excluded.pool, images_model = excluded.images_model,
           images_bindings = excluded.images_bindings, updated_at = excluded.updated_at`,
      )
      .bind(tenantId, name, v.description, v.pool, v.images_model ?? null, v.images_bindings ?? null, now, now),
    db
      .prepare(
        `INSERT INTO template_versions (tenant_id, name, version, description, pool, source, inputs, workflow, created_at)
         SELECT tenant_id, name, latest_version, ?, ?, ?, ?, ?, ? FROM templates WHERE tenant_id = ? AND name = ?
         RETURNING version`,
      )
      .bind(v.description, v.pool, v.source, JSON.stringify(v.inputs), JSON.stringify(v.workflow), now, tenantId, name),
  ]);
  return (inserted!.results[0] as { version: number }).version;
}

export async function getTemplate(db: D1Database, tenantId: string, name: string): Promise<TemplateRow | null> {
  return db
    .prepare(
      "SELECT name, latest_version, description, pool, images_model, created_at, updated_at FROM templates WHERE tenant_id = ? AND name = ?",
    )
    .bind(tenantId, name)
    .first<TemplateRow>();
}

export async function listTemplates(db: D1Database, tenantId: string): Promise<TemplateRow[]> {
  const { results } = await db
    .prepare(
      "SELECT name, latest_version, description, pool, images_model, created_at, updated_at FROM templates WHERE tenant_id = ? ORDER BY name",
    )
    .bind(tenantId)
    .all<TemplateRow>();
  return results;
}

export async function listVersions(db: D1Database, tenantId: string, name: string): Promise<VersionRow[]> {
  const { results } = await db
    .prepare(
      "SELECT version, description, pool, source, created_at FROM template_versions WHERE tenant_id = ? AND name = ? ORDER BY version DESC",
    )
    .bind(tenantId, name)
    .all<VersionRow>();
  return results;
}

/** A version (the latest when `version` is null), with its graph and inputs. */
export async function getVersion(
  db: D1Database,
  tenantId: string,
  name: string,
  version: number | null,
): Promise<StoredVersion | null> {
  const row = await db
    .prepare(
      `SELECT v.name, v.version, v.description, v.pool, v.source, v.inputs, v.workflow, v.created_at
         FROM template_versions v JOIN templates t ON t.tenant_id = v.tenant_id AND t.name = v.name
        WHERE v.tenant_id = ? AND v.name = ? AND v.version = COALESCE(?, t.latest_version)`,
    )
    .bind(tenantId, name, version)
    .first<Omit<StoredVersion, "inputs" | "workflow"> & { inputs: string; workflow: string }>();
  if (!row) return null;
  return { ...row, inputs: JSON.parse(row.inputs) as TemplateInput[], workflow: JSON.parse(row.workflow) as Workflow };
}

/** Removes a template and all its versions; false if there was none. */
export async function deleteTemplate(db: D1Database, tenantId: string, name: string): Promise<boolean> {
  const [, removed] = await db.batch([
    db.prepare("DELETE FROM template_versions WHERE tenant_id = ? AND name = ?").bind(tenantId, name),
    db.prepare("DELETE FROM templates WHERE tenant_id = ? AND name = ?").bind(tenantId, name),
  ]);
  return (removed!.meta.changes ?? 0) > 0;
}
