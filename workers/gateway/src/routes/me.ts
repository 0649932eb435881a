import { Scope } from "@comfy-edge/shared/contract";
import { Hono } from "hono";
import { z } from "zod";
import { apiKeyAuth } from "../middleware/api-key-auth.ts";
import { authedJsonErrors } from "../openapi/common.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import type { AppEnv } from "../types.ts";

export const Me = z
  .object({ key_id: z.string(), tenant_id: z.string(), scopes: z.array(Scope), default_pool: z.string() })
  .meta({ id: "Me" });

/** `GET /v1/me`: who the caller is (any valid key, no scope needed). Answers from the key record only. */
export const meRoutes = new Hono<AppEnv>();
meRoutes.use("*", apiKeyAuth({}));
meRoutes.get("/", (c) => {
  const auth = c.get("auth");
  return c.json({
    key_id: auth.keyId,
    tenant_id: auth.tenantId,
    scopes: auth.scopes,
    default_pool: auth.tenant.default_pool ?? "local",
  });
});

export const meDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/v1/me",
    summary: "Describe the calling API key",
    description: "Key id, tenant, scopes and default pool. Costs one Durable Object call and no D1 read.",
    tag: "Account",
    security: "apiKey",
    responses: {
      200: { description: "The key", schema: Me },
      ...authedJsonErrors(null),
    },
  },
];
