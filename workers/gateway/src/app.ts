/** The gateway's Hono app: one sub-app per resource, one error renderer. */
import { Hono } from "hono";
import { notFoundHandler, renderError } from "./errors.ts";
import { requestId } from "./middleware/request-id.ts";
import type { RouteDoc } from "./openapi/route-doc.ts";
import { adminDocs, adminRoutes } from "./routes/admin/index.ts";
import { meDocs, meRoutes } from "./routes/me.ts";
import { metaDocs, metaRoutes } from "./routes/meta.ts";
import { poolDocs, poolRoutes } from "./routes/pools.ts";
import type { AppEnv } from "./types.ts";

export function allRouteDocs(): RouteDoc[] {
  return [...metaDocs, ...adminDocs, ...meDocs, ...poolDocs];
}

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requestId());
  app.route("/", metaRoutes(allRouteDocs));
  app.route("/admin/v1", adminRoutes);
  app.route("/v1/me", meRoutes);
  app.route("/v1/pools", poolRoutes);
  app.onError(renderError);
  app.notFound(notFoundHandler(app));
  return app;
}
