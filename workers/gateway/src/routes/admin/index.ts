import { Hono } from "hono";
import { adminAuth } from "../../middleware/admin-auth.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import type { AppEnv } from "../../types.ts";
import { keyDocs, keyRoutes } from "./keys.ts";
import { manifestAdminDocs, manifestAdminRoutes, tenantModelHostRoutes } from "./manifest.ts";
import { poolGroupDocs, poolGroupRoutes, tenantRegionRoutes } from "./pool-groups.ts";
import { poolAdminDocs, poolAdminRoutes } from "./pools.ts";
import { runnerTokenDocs, runnerTokenRoutes } from "./runner-tokens.ts";
import { secretDocs, secretRoutes } from "./secrets.ts";
import { statsDocs, statsRoutes } from "./stats.ts";
import { tenantDocs, tenantRoutes } from "./tenants.ts";

export const adminRoutes = new Hono<AppEnv>();
adminRoutes.use("*", adminAuth());
adminRoutes.route("/tenants", tenantRoutes);
adminRoutes.route("/pools", poolAdminRoutes);
adminRoutes.route("/pools", manifestAdminRoutes);
adminRoutes.route("/tenants", tenantModelHostRoutes);
adminRoutes.route("/pool-groups", poolGroupRoutes);
adminRoutes.route("/tenants", tenantRegionRoutes);
adminRoutes.route("/keys", keyRoutes);
adminRoutes.route("/runner-tokens", runnerTokenRoutes);
adminRoutes.route("/secrets", secretRoutes);
adminRoutes.route("/stats", statsRoutes);

export const adminDocs: RouteDoc[] = [
  ...tenantDocs,
  ...poolAdminDocs,
  ...poolGroupDocs,
  ...keyDocs,
  ...runnerTokenDocs,
  ...secretDocs,
  ...statsDocs,
  ...manifestAdminDocs,
];
