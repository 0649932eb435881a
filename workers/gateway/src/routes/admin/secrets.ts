/**
 * `POST /admin/v1/secrets/reseal`: re-encrypts every tenant's stored webhook secrets with the current
 * WEBHOOK_SECRET_KEY (plaintext rows from before encryption included), the step between adding a new key
 * and removing the previous one (infra/README.md, "Rotating secrets"). Tenants' secrets do not change.
 */

import { resealSecret, secretBox } from "@comfy-edge/shared/secret-box";
import { Hono } from "hono";
import { z } from "zod";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import type { AppEnv } from "../../types.ts";

export const ResealResult = z.object({
  tenants: z.number().int().describe("Tenants read"),
  resealed: z.number().int().describe("Tenants whose stored secrets were re-encrypted with the current key"),
});

interface SecretRow {
  id: string;
  webhook_secret: string;
  webhook_secret_previous: string | null;
}

export const secretRoutes = new Hono<AppEnv>();

secretRoutes.post("/reseal", async (c) => {
  const box = await secretBox(c.env.WEBHOOK_SECRET_KEY);
  const { results } = await c.env.DB.prepare(
    "SELECT id, webhook_secret, webhook_secret_previous FROM tenants",
  ).all<SecretRow>();
  const updates: D1PreparedStatement[] = [];
  for (const row of results) {
    const current = await resealSecret(box, row.webhook_secret, row.id);
    const previous =
      row.webhook_secret_previous === null ? null : await resealSecret(box, row.webhook_secret_previous, row.id);
    if (current === row.webhook_secret && previous === row.webhook_secret_previous) continue;
    // Only if the row is unchanged since it was read (a concurrent rotation wins).
    updates.push(
      c.env.DB.prepare(
        `UPDATE tenants SET webhook_secret = ?, webhook_secret_previous = ?
          WHERE id = ? AND webhook_secret = ? AND webhook_secret_previous IS ?`,
      ).bind(current, previous, row.id, row.webhook_secret, row.webhook_secret_previous),
    );
  }
  if (updates.length > 0) await c.env.DB.batch(updates);
  return c.json(ResealResult.parse({ tenants: results.length, resealed: updates.length }));
});

export const secretDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/admin/v1/secrets/reseal",
    summary: "Re-encrypt stored webhook secrets with the current key",
    description:
      "Run after adding a new WEBHOOK_SECRET_KEY in front of the previous one and before removing the previous one. Idempotent; tenants' webhook secrets stay the same.",
    tag: "Admin",
    security: "admin",
    responses: {
      200: { description: "Counts", schema: ResealResult },
    },
  },
];
