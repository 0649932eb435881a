/** Admin API for model assets (docs/models.md): pool manifests, runners' model state, re-sync, tenants' model hosts. */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { PoolManifest, PoolManifestBody, PoolModelsView, TenantModelHosts } from "@comfy-edge/shared/contract/models";
import { ApiError } from "@comfy-edge/shared/errors";
import { Hono } from "hono";
import { readJson } from "../../lib/body.ts";
import {
  getManifest,
  getTenantModelHosts,
  putManifest,
  putTenantModelHosts,
  resyncManifest,
  runnerReports,
} from "../../models/store.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import type { AppEnv } from "../../types.ts";
import { getPoolRow, getTenantRow } from "./lookups.ts";

export const manifestAdminRoutes = new Hono<AppEnv>();
export const tenantModelHostRoutes = new Hono<AppEnv>();

async function poolName(db: D1Database, name: string): Promise<string> {
  const row = await getPoolRow(db, name);
  if (!row) throw new ApiError(404, "pool_not_found", `No pool named '${name.slice(0, 80)}'.`);
  return row.name;
}

const noManifest = (pool: string) =>
  new ApiError(
    404,
    "manifest_not_found",
    `Pool '${pool}' has no model manifest: set one with PUT /admin/v1/pools/${pool}/manifest.`,
  );

manifestAdminRoutes.put("/:name/manifest", async (c) => {
  const pool = await poolName(c.env.DB, c.req.param("name"));
  const body = await readJson(c, PoolManifestBody, { maxBytes: 1024 * 1024 });
  return c.json(await putManifest(c.env.DB, pool, body));
});

manifestAdminRoutes.get("/:name/manifest", async (c) => {
  const pool = await poolName(c.env.DB, c.req.param("name"));
  const manifest = await getManifest(c.env.DB, pool);
  if (manifest === null) throw noManifest(pool);
  return c.json(manifest);
});

manifestAdminRoutes.post("/:name/manifest/resync", async (c) => {
  const pool = await poolName(c.env.DB, c.req.param("name"));
  const manifest = await resyncManifest(c.env.DB, pool);
  if (manifest === null) throw noManifest(pool);
  return c.json(manifest);
});

manifestAdminRoutes.get("/:name/models", async (c) => {
  const pool = await poolName(c.env.DB, c.req.param("name"));
  const manifest = await getManifest(c.env.DB, pool);
  return c.json({ pool, manifest_digest: manifest?.digest ?? null, runners: await runnerReports(c.env.DB, pool) });
});

tenantModelHostRoutes.put("/:id/model-hosts", async (c) => {
  const tenant = await getTenantRow(c.env.DB, c.req.param("id"));
  const body = await readJson(c, TenantModelHosts, { maxBytes: 64 * 1024 });
  const hosts = [...new Set(body.hosts.map((h) => h.toLowerCase()))];
  await putTenantModelHosts(c.env.DB, tenant.id, hosts);
  return c.json({ hosts });
});

tenantModelHostRoutes.get("/:id/model-hosts", async (c) => {
  const tenant = await getTenantRow(c.env.DB, c.req.param("id"));
  return c.json({ hosts: await getTenantModelHosts(c.env.DB, tenant.id) });
});

const errors = {
  400: { description: "Invalid request", schema: ErrorEnvelope },
};
const poolMissing = { description: "No such pool", schema: ErrorEnvelope };
const manifestMissing = { description: "No such pool, or the pool has no manifest", schema: ErrorEnvelope };

export const manifestAdminDocs: RouteDoc[] = [
  {
    method: "put",
    path: "/admin/v1/pools/:name/manifest",
    summary: "Set a pool's model manifest",
    description:
      "The model files every runner of the pool downloads (verified by SHA-256 and size) into ComfyUI's model folders, an optional warmup workflow each runner runs before leasing jobs, and whether jobs may name models by URL (`url_models`). Replaces the previous manifest; runners pick the change up within a lease cycle. docs/models.md.",
    tag: "Admin",
    security: "admin",
    body: PoolManifestBody,
    responses: { 200: { description: "The stored manifest", schema: PoolManifest }, ...errors, 404: poolMissing },
  },
  {
    method: "get",
    path: "/admin/v1/pools/:name/manifest",
    summary: "Get a pool's model manifest",
    tag: "Admin",
    security: "admin",
    responses: { 200: { description: "The manifest", schema: PoolManifest }, ...errors, 404: manifestMissing },
  },
  {
    method: "post",
    path: "/admin/v1/pools/:name/manifest/resync",
    summary: "Make every runner of the pool re-check its model files and warm up again",
    description:
      "Gives the manifest a new digest; each runner verifies its files, downloads what is missing and runs the warmup.",
    tag: "Admin",
    security: "admin",
    responses: {
      200: { description: "The manifest with its new digest", schema: PoolManifest },
      ...errors,
      404: manifestMissing,
    },
  },
  {
    method: "get",
    path: "/admin/v1/pools/:name/models",
    summary: "Each runner's model files and download state",
    tag: "Admin",
    security: "admin",
    responses: { 200: { description: "Runners' reports", schema: PoolModelsView }, ...errors, 404: poolMissing },
  },
  {
    method: "put",
    path: "/admin/v1/tenants/:id/model-hosts",
    summary: "Set the hosts a tenant's jobs may name model files from",
    description:
      "Exact hosts or `*.example.com` wildcards. A job may give a model input (ckpt_name, lora_name, ...) as an https URL only on such a host and only in a pool whose manifest sets `url_models`. An empty list allows none.",
    tag: "Admin",
    security: "admin",
    body: TenantModelHosts,
    responses: {
      200: { description: "The stored list", schema: TenantModelHosts },
      ...errors,
      404: { description: "No such tenant", schema: ErrorEnvelope },
    },
  },
  {
    method: "get",
    path: "/admin/v1/tenants/:id/model-hosts",
    summary: "The hosts a tenant's jobs may name model files from",
    tag: "Admin",
    security: "admin",
    responses: {
      200: { description: "The list", schema: TenantModelHosts },
      ...errors,
      404: { description: "No such tenant", schema: ErrorEnvelope },
    },
  },
];
