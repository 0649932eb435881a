import { ErrorEnvelope, RunnerToken, RunnerTokenCreate, RunnerTokenWithSecret } from "@comfy-edge/shared/contract";
import { newId } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import { issueToken } from "@comfy-edge/shared/tokens";
import { Hono } from "hono";
import { z } from "zod";
import { readJson, readQuery } from "../../lib/body.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import type { AppEnv } from "../../types.ts";
import { requirePool } from "./lookups.ts";
import { type RunnerTokenRow, toRunnerToken } from "./rows.ts";

export const runnerTokenRoutes = new Hono<AppEnv>();

runnerTokenRoutes.post("/", async (c) => {
  const body = await readJson(c, RunnerTokenCreate, { maxBytes: 64 * 1024 });
  await requirePool(c.env.DB, body.pool, "pool");
  const issued = await issueToken("rt", c.env.SIGNING_SECRET);
  const row: RunnerTokenRow = {
    id: newId("rt"),
    pool: body.pool,
    token_hash: issued.hash,
    prefix: issued.prefix,
    created_at: Date.now(),
    revoked_at: null,
  };
  await c.env.DB.prepare("INSERT INTO runner_tokens (id, pool, token_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)")
    .bind(row.id, row.pool, row.token_hash, row.prefix, row.created_at)
    .run();
  return c.json({ ...toRunnerToken(row), token: issued.token }, 201);
});

const RunnerTokenListQuery = z
  .object({ pool: z.string().min(1).max(63).optional().meta({ description: "Only this pool's tokens" }) })
  .strict();

runnerTokenRoutes.get("/", async (c) => {
  const { pool } = readQuery(c, RunnerTokenListQuery);
  const stmt = pool
    ? c.env.DB.prepare("SELECT * FROM runner_tokens WHERE pool = ? ORDER BY created_at").bind(pool)
    : c.env.DB.prepare("SELECT * FROM runner_tokens ORDER BY created_at");
  const { results } = await stmt.all<RunnerTokenRow>();
  return c.json({ data: results.map(toRunnerToken) });
});

runnerTokenRoutes.delete("/:id", async (c) => {
  const id = c.req.param("id");
  const row = await c.env.DB.prepare("SELECT * FROM runner_tokens WHERE id = ?").bind(id).first<RunnerTokenRow>();
  if (!row) throw new ApiError(404, "runner_token_not_found", `No runner token with id '${id}'.`);
  const revokedAt = row.revoked_at ?? Date.now();
  if (row.revoked_at === null) {
    await c.env.DB.prepare("UPDATE runner_tokens SET revoked_at = ? WHERE id = ?").bind(revokedAt, id).run();
  }
  return c.json(toRunnerToken({ ...row, revoked_at: revokedAt }));
});

const errors = {
  400: { description: "Invalid request", schema: ErrorEnvelope },
};

export const runnerTokenDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/admin/v1/runner-tokens",
    summary: "Create a runner token for one pool",
    description: "The token is returned once. A runner holding it can only lease jobs of that pool.",
    tag: "Admin",
    security: "admin",
    body: RunnerTokenCreate,
    responses: {
      201: { description: "Created", schema: RunnerTokenWithSecret },
      ...errors,
      422: { description: "Unknown pool", schema: ErrorEnvelope },
    },
  },
  {
    method: "get",
    path: "/admin/v1/runner-tokens",
    summary: "List runner tokens (never the tokens themselves)",
    tag: "Admin",
    security: "admin",
    query: RunnerTokenListQuery,
    responses: {
      200: { description: "Runner tokens, oldest first", schema: z.object({ data: z.array(RunnerToken) }) },
      ...errors,
    },
  },
  {
    method: "delete",
    path: "/admin/v1/runner-tokens/:id",
    summary: "Revoke a runner token",
    tag: "Admin",
    security: "admin",
    responses: {
      200: { description: "The revoked token", schema: RunnerToken },
      ...errors,
      404: { description: "No such token", schema: ErrorEnvelope },
    },
  },
];
