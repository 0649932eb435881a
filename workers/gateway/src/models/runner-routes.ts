/** Runner API for model assets: the pool's manifest and the runner's report of its model files. */

import { ErrorEnvelope } from "@comfy-edge/shared/contract";
import { PoolManifest, RunnerModelsReport } from "@comfy-edge/shared/contract/models";
import { Hono } from "hono";
import { readJson } from "../lib/body.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";
import { emptyManifest, getManifest, saveRunnerReport } from "./store.ts";

export const manifestRunnerRoutes = new Hono<AppEnv>();

manifestRunnerRoutes.get("/", async (c) => {
  const { pool } = c.get("runner");
  return c.json((await getManifest(c.env.DB, pool)) ?? emptyManifest(pool));
});

manifestRunnerRoutes.put("/status", async (c) => {
  const { pool } = c.get("runner");
  const report = await readJson(c, RunnerModelsReport, { maxBytes: 512 * 1024 });
  await saveRunnerReport(c.env.DB, pool, report);
  return c.body(null, 204);
});

const errors = {
  400: { description: "Invalid request", schema: ErrorEnvelope },
  401: { description: "Missing or invalid runner token", schema: ErrorEnvelope },
};

export const manifestRunnerDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/runner/v1/manifest",
    summary: "The runner's pool manifest (model files, warmup workflow)",
    description: "A pool without a manifest answers an empty one with digest `none`. docs/models.md.",
    tag: "Runner",
    security: "runner",
    responses: { 200: { description: "The manifest", schema: PoolManifest }, 401: errors[401] },
  },
  {
    method: "put",
    path: "/runner/v1/manifest/status",
    summary: "Report this runner's model files, download and warmup state",
    tag: "Runner",
    security: "runner",
    body: RunnerModelsReport,
    responses: { 204: { description: "Stored" }, ...errors },
  },
];
