import {
  ErrorEnvelope,
  Tenant,
  TenantCreate,
  TenantPatch,
  TenantWithSecret,
  WebhookSecretRotated,
} from "@comfy-edge/shared/contract";
import { newId, toBase64 } from "@comfy-edge/shared/crypto";
import { resealSecret, sealSecret, secretBox } from "@comfy-edge/shared/secret-box";
import { Hono } from "hono";
import { z } from "zod";
import { nodePolicyToColumn } from "../../jobs/node-policy.ts";
import { readJson } from "../../lib/body.ts";
import { toJsonColumn } from "../../lib/json.ts";
import { iso } from "../../lib/time.ts";
import { forgetTenantOrigins } from "../../middleware/cors-tenants.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import type { AppEnv } from "../../types.ts";
import { getTenantRow, refreshTenantKeys, requireDefaultPool, tenantNameTaken } from "./lookups.ts";
import { type TenantRow, toTenant } from "./rows.ts";

/** How long the previous webhook secret keeps signing after a rotation. */
export const PREVIOUS_SECRET_TTL_MS = 24 * 3600 * 1000;

export function newWebhookSecret(): string {
  return `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

export const tenantRoutes = new Hono<AppEnv>();

tenantRoutes.post("/", async (c) => {
  const body = await readJson(c, TenantCreate, { maxBytes: 1024 * 1024 });
  if (body.default_pool) await requireDefaultPool(c.env.DB, body.default_pool);
  const now = Date.now();
  const id = newId("ten");
  // Stored encrypted (shared/secret-box.ts); shown in plain text only in this answer.
  const webhookSecret = newWebhookSecret();
  const row: TenantRow = {
    id,
    name: body.name,
    image_url_allowlist: toJsonColumn(body.image_url_allowlist),
    webhook_host_allowlist: toJsonColumn(body.webhook_host_allowlist),
    default_pool: body.default_pool ?? null,
    cache_all: body.cache_all ? 1 : 0,
    requests_per_minute: body.limits?.requests_per_minute ?? null,
    max_queued_jobs: body.limits?.max_queued_jobs ?? null,
    max_running_jobs: body.limits?.max_running_jobs ?? null,
    queue_timeout_s: body.limits?.queue_timeout_s ?? null,
    max_run_s: body.limits?.max_run_s ?? null,
    webhook_secret: await sealSecret(await secretBox(c.env.WEBHOOK_SECRET_KEY), webhookSecret, id),
    webhook_secret_previous: null,
    webhook_secret_previous_expires_at: null,
    node_policy: nodePolicyToColumn(body.node_policy),
    cors_allowed_origins: toJsonColumn(body.cors_allowed_origins),
    created_at: now,
    updated_at: now,
  };
  const inserted = await c.env.DB.prepare(
    `INSERT INTO tenants (id, name, image_url_allowlist, webhook_host_allowlist, default_pool, cache_all,
       requests_per_minute, max_queued_jobs, max_running_jobs, queue_timeout_s, max_run_s, webhook_secret, node_policy,
       cors_allowed_origins, created_at, updated_at)
     SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
      WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE name = ? COLLATE NOCASE)`,
  )
    .bind(
      row.id,
      row.name,
      row.image_url_allowlist,
      row.webhook_host_allowlist,
      row.default_pool,
      row.cache_all,
      row.requests_per_minute,
      row.max_queued_jobs,
      row.max_running_jobs,
      row.queue_timeout_s,
      row.max_run_s,
      row.webhook_secret,
      row.node_policy,
      row.cors_allowed_origins ?? null,
      row.created_at,
      row.updated_at,
      row.name,
    )
    .run();
  // Names are unique (case-insensitively); check and insert are one statement, so racing creates cannot both win.
  if (inserted.meta.changes === 0) throw await tenantNameTaken(c.env.DB, row.name);
  if (body.cors_allowed_origins) await forgetTenantOrigins();
  return c.json({ ...toTenant(row), webhook_secret: webhookSecret }, 201);
});

tenantRoutes.get("/", async (c) => {
  const { results } = await c.env.DB.prepare("SELECT * FROM tenants ORDER BY created_at").all<TenantRow>();
  return c.json({ data: results.map(toTenant) });
});

tenantRoutes.get("/:id", async (c) => c.json(toTenant(await getTenantRow(c.env.DB, c.req.param("id")))));

tenantRoutes.patch("/:id", async (c) => {
  const id = c.req.param("id");
  const body = await readJson(c, TenantPatch, { maxBytes: 1024 * 1024 });
  const current = await getTenantRow(c.env.DB, id);
  if (body.default_pool) await requireDefaultPool(c.env.DB, body.default_pool);
  const pick = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);
  const limits = body.limits ?? {};
  const next: TenantRow = {
    ...current,
    name: pick(body.name, current.name),
    image_url_allowlist:
      body.image_url_allowlist === undefined ? current.image_url_allowlist : toJsonColumn(body.image_url_allowlist),
    webhook_host_allowlist:
      body.webhook_host_allowlist === undefined
        ? current.webhook_host_allowlist
        : toJsonColumn(body.webhook_host_allowlist),
    default_pool: pick(body.default_pool, current.default_pool),
    cache_all: body.cache_all === undefined ? current.cache_all : body.cache_all ? 1 : 0,
    requests_per_minute: pick(limits.requests_per_minute, current.requests_per_minute),
    max_queued_jobs: pick(limits.max_queued_jobs, current.max_queued_jobs),
    max_running_jobs: pick(limits.max_running_jobs, current.max_running_jobs),
    queue_timeout_s: pick(limits.queue_timeout_s, current.queue_timeout_s),
    max_run_s: pick(limits.max_run_s, current.max_run_s),
    node_policy: body.node_policy === undefined ? current.node_policy : nodePolicyToColumn(body.node_policy),
    cors_allowed_origins:
      body.cors_allowed_origins === undefined
        ? (current.cors_allowed_origins ?? null)
        : toJsonColumn(body.cors_allowed_origins),
    updated_at: Date.now(),
  };
  const updated = await c.env.DB.prepare(
    `UPDATE tenants SET name = ?, image_url_allowlist = ?, webhook_host_allowlist = ?, default_pool = ?, cache_all = ?,
       requests_per_minute = ?, max_queued_jobs = ?, max_running_jobs = ?, queue_timeout_s = ?, max_run_s = ?,
       node_policy = ?, cors_allowed_origins = ?, updated_at = ?
     WHERE id = ? AND NOT EXISTS (SELECT 1 FROM tenants WHERE name = ? COLLATE NOCASE AND id != ?)`,
  )
    .bind(
      next.name,
      next.image_url_allowlist,
      next.webhook_host_allowlist,
      next.default_pool,
      next.cache_all,
      next.requests_per_minute,
      next.max_queued_jobs,
      next.max_running_jobs,
      next.queue_timeout_s,
      next.max_run_s,
      next.node_policy,
      next.cors_allowed_origins ?? null,
      next.updated_at,
      id,
      next.name,
      id,
    )
    .run();
  if (updated.meta.changes === 0) throw await tenantNameTaken(c.env.DB, next.name);
  if (body.cors_allowed_origins !== undefined) await forgetTenantOrigins();
  await refreshTenantKeys(c.env, id);
  return c.json(toTenant(next));
});

tenantRoutes.post("/:id/webhook-secret/rotate", async (c) => {
  const current = await getTenantRow(c.env.DB, c.req.param("id"));
  const now = Date.now();
  const secret = newWebhookSecret();
  const expiresAt = now + PREVIOUS_SECRET_TTL_MS;
  // Both stored encrypted with the current key (a plaintext row from before encryption is sealed now).
  const box = await secretBox(c.env.WEBHOOK_SECRET_KEY);
  await c.env.DB.prepare(
    `UPDATE tenants SET webhook_secret = ?, webhook_secret_previous = ?, webhook_secret_previous_expires_at = ?, updated_at = ?
     WHERE id = ?`,
  )
    .bind(
      await sealSecret(box, secret, current.id),
      await resealSecret(box, current.webhook_secret, current.id),
      expiresAt,
      now,
      current.id,
    )
    .run();
  return c.json({ webhook_secret: secret, previous_secret_expires_at: iso(expiresAt) });
});

const errors = {
  400: { description: "Invalid request", schema: ErrorEnvelope },
  401: { description: "Missing or invalid admin token", schema: ErrorEnvelope },
};
const notFound = { 404: { description: "No such tenant", schema: ErrorEnvelope } };
const TenantList = z.object({ data: z.array(Tenant) });

export const tenantDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/admin/v1/tenants",
    summary: "Create a tenant",
    description: "Returns the tenant with its webhook signing secret (shown only here and on rotation).",
    tag: "Admin",
    security: "admin",
    body: TenantCreate,
    responses: {
      201: { description: "Created", schema: TenantWithSecret },
      ...errors,
      409: { description: "A tenant with that name exists (tenant_name_taken)", schema: ErrorEnvelope },
      422: { description: "Unknown default_pool (a pool, or group:<name> a pool group)", schema: ErrorEnvelope },
    },
  },
  {
    method: "get",
    path: "/admin/v1/tenants",
    summary: "List tenants",
    tag: "Admin",
    security: "admin",
    responses: { 200: { description: "Tenants", schema: TenantList }, ...errors },
  },
  {
    method: "get",
    path: "/admin/v1/tenants/:id",
    summary: "Get a tenant",
    tag: "Admin",
    security: "admin",
    responses: { 200: { description: "The tenant", schema: Tenant }, ...errors, ...notFound },
  },
  {
    method: "patch",
    path: "/admin/v1/tenants/:id",
    summary: "Update a tenant",
    description: "Changes apply to the tenant's keys at once.",
    tag: "Admin",
    security: "admin",
    body: TenantPatch,
    responses: {
      200: { description: "The updated tenant", schema: Tenant },
      ...errors,
      ...notFound,
      409: { description: "Another tenant has that name (tenant_name_taken)", schema: ErrorEnvelope },
      422: { description: "Unknown default_pool (a pool, or group:<name> a pool group)", schema: ErrorEnvelope },
    },
  },
  {
    method: "post",
    path: "/admin/v1/tenants/:id/webhook-secret/rotate",
    summary: "Rotate the webhook signing secret",
    description: "The previous secret keeps signing alongside the new one for 24 hours.",
    tag: "Admin",
    security: "admin",
    responses: { 200: { description: "The new secret", schema: WebhookSecretRotated }, ...errors, ...notFound },
  },
];
