/** `PUT /runner/v1/capabilities`: a runner sends the capability report whose digest it leases with. */

import { reportDigest } from "@comfy-edge/shared/capabilities/build";
import { CapabilitiesAck, CapabilitiesPut, ErrorEnvelope } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { Hono } from "hono";
import { readJson } from "../lib/body.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { allShardStubs } from "../pools/shards.ts";
import type { AppEnv } from "../types.ts";

const MAX_REPORT_BYTES = 8 * 1024 * 1024;

export const capabilityRoutes = new Hono<AppEnv>();

capabilityRoutes.put("/", async (c) => {
  const body = await readJson(c, CapabilitiesPut, { maxBytes: MAX_REPORT_BYTES });
  const digest = await reportDigest(body.report);
  if (digest !== body.digest) {
    throw new ApiError(
      422,
      "digest_mismatch",
      `digest must be the sha256 (hex) of the report's canonical JSON (keys sorted): expected ${digest}.`,
      { param: "digest" },
    );
  }
  // Every shard of the pool holds the report (a runner leases from each in turn; reports are rare).
  const shards = await allShardStubs(c.env, c.get("runner").pool);
  await Promise.all(shards.map((s) => s.putCapabilities(digest, body.report)));
  return c.json({
    digest,
    node_classes: Object.keys(body.report.node_classes).length,
    models: Object.values(body.report.models).reduce((n, files) => n + files.length, 0),
  });
});

const E = (description: string) => ({ description, schema: ErrorEnvelope });

export const capabilityDocs: RouteDoc[] = [
  {
    method: "put",
    path: "/runner/v1/capabilities",
    summary: "Send this runner's capability report (node classes, input specs, model files, GPU)",
    description:
      "The runner leases with `capabilities_digest` (sha256 of the report's canonical JSON, keys sorted); when the gateway answers 409 `capabilities_required` it sends the report here once, then leases again. Stored per pool (docs/capabilities.md).",
    tag: "Runner",
    security: "runner",
    body: CapabilitiesPut,
    responses: {
      200: { description: "Stored", schema: CapabilitiesAck },
      400: E("Invalid report"),
      401: E("Missing, invalid or revoked runner token"),
      413: E("Report larger than 8 MiB"),
      422: E("digest_mismatch: the digest is not the report's"),
    },
  },
];
