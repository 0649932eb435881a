import { ApiKey, ApiKeyWithSecret, ErrorEnvelope, KeyCreate, KeyListQuery } from "@comfy-edge/shared/contract";
import { newId } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import { issueToken } from "@comfy-edge/shared/tokens";
import { Hono } from "hono";
import { z } from "zod";
import { readJson, readQuery } from "../../lib/body.ts";
import { keyStub } from "../../middleware/api-key-auth.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import type { AppEnv } from "../../types.ts";
import { type KeyRow, toKey } from "./rows.ts";

export const keyRoutes = new Hono<AppEnv>();

keyRoutes.post("/", async (c) => {
  const body = await readJson(c, KeyCreate, { maxBytes: 64 * 1024 });
  const tenant = await c.env.DB.prepare("SELECT id FROM tenants WHERE id = ?").bind(body.tenant_id).first();
  if (!tenant)
    throw new ApiError(422, "unknown_tenant", `No tenant with id '${body.tenant_id}'.`, { param: "tenant_id" });
  const issued = await issueToken("sk", c.env.SIGNING_SECRET);
  const row: KeyRow = {
    id: newId("key"),
    tenant_id: body.tenant_id,
    name: body.name ?? null,
    key_hash: issued.hash,
    prefix: issued.prefix,
    scopes: JSON.stringify([...new Set(body.scopes)]),
    requests_per_minute: body.requests_per_minute ?? null,
    created_at: Date.now(),
    revoked_at: null,
  };
  await c.env.DB.prepare(
    `INSERT INTO api_keys (id, tenant_id, name, key_hash, prefix, scopes, requests_per_minute, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  )
    .bind(
      row.id,
      row.tenant_id,
      row.name,
      row.key_hash,
      row.prefix,
      row.scopes,
      row.requests_per_minute,
      row.created_at,
    )
    .run();
  return c.json({ ...toKey(row), key: issued.token }, 201);
});

keyRoutes.get("/", async (c) => {
  const { tenant_id } = readQuery(c, KeyListQuery);
  const { results } = await c.env.DB.prepare("SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at")
    .bind(tenant_id)
    .all<KeyRow>();
  return c.json({ data: results.map(toKey) });
});

keyRoutes.delete("/:id", async (c) => {
  const id = c.req.param("id");
  const row = await c.env.DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(id).first<KeyRow>();
  if (!row) throw new ApiError(404, "key_not_found", `No API key with id '${id}'.`);
  const revokedAt = row.revoked_at ?? Date.now();
  if (row.revoked_at === null) {
    await c.env.DB.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
      .bind(revokedAt, id)
      .run();
  }
  // Always tell the key's Durable Object (idempotent), so a retry after a failed call still revokes.
  await keyStub(c.env, row.key_hash).revoke(row.key_hash);
  return c.json(toKey({ ...row, revoked_at: revokedAt }));
});

const errors = {
  400: { description: "Invalid request", schema: ErrorEnvelope },
};

export const keyDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/admin/v1/keys",
    summary: "Create an API key",
    description: "The key is returned once and stored only as a SHA-256 hash.",
    tag: "Admin",
    security: "admin",
    body: KeyCreate,
    responses: {
      201: { description: "Created", schema: ApiKeyWithSecret },
      ...errors,
      422: { description: "Unknown tenant", schema: ErrorEnvelope },
    },
  },
  {
    method: "get",
    path: "/admin/v1/keys",
    summary: "List a tenant's API keys",
    tag: "Admin",
    security: "admin",
    query: KeyListQuery,
    responses: {
      200: { description: "Keys (without secrets)", schema: z.object({ data: z.array(ApiKey) }) },
      ...errors,
    },
  },
  {
    method: "delete",
    path: "/admin/v1/keys/:id",
    summary: "Revoke an API key",
    description: "Takes effect immediately everywhere.",
    tag: "Admin",
    security: "admin",
    responses: {
      200: { description: "The revoked key", schema: ApiKey },
      ...errors,
      404: { description: "No such key", schema: ErrorEnvelope },
    },
  },
];
