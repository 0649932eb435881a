/** The gateway's Hono app: one sub-app per resource, one error renderer. */
import { Hono } from "hono";
import { gatewayConfig } from "./config.ts";
import { consoleDocs, consoleRoutes } from "./console/routes.ts";
import { notFoundHandler, renderError } from "./errors.ts";
import { imageDocs } from "./images/docs.ts";
import { corsMiddleware } from "./middleware/cors.ts";
import { requestId } from "./middleware/request-id.ts";
import type { RouteDoc } from "./openapi/route-doc.ts";
import { adminDocs, adminRoutes } from "./routes/admin/index.ts";
import { chatDocs, chatRoutes } from "./routes/chat.ts";
import { completionDocs, completionRoutes } from "./routes/completions.ts";
import { embeddingDocs, embeddingRoutes } from "./routes/embeddings.ts";
import { fileDocs, fileRoutes } from "./routes/files.ts";
import { imageRoutes } from "./routes/images.ts";
import { outputDocs } from "./routes/job-outputs.ts";
import { jobDocs, jobRoutes } from "./routes/jobs.ts";
import { meDocs, meRoutes } from "./routes/me.ts";
import { metaDocs, metaRoutes } from "./routes/meta.ts";
import { modelDocs, modelRoutes } from "./routes/models.ts";
import { poolDocs, poolRoutes } from "./routes/pools.ts";
import { runnerDocs, runnerRoutes } from "./routes/runner.ts";
import { templateDocs } from "./routes/template-docs.ts";
import { templateRoutes } from "./routes/templates.ts";
import { usageDocs, usageRoutes } from "./routes/usage.ts";
import { deliveryDocs } from "./routes/webhook-deliveries.ts";
import type { StatsAggregator } from "./stats/aggregator.ts";
import { requestStats } from "./stats/middleware.ts";
import type { AppEnv } from "./types.ts";

export function allRouteDocs(): RouteDoc[] {
  return [
    ...metaDocs,
    ...consoleDocs,
    ...adminDocs,
    ...meDocs,
    ...poolDocs,
    ...jobDocs,
    ...templateDocs,
    ...outputDocs,
    ...deliveryDocs,
    ...fileDocs,
    ...runnerDocs,
    ...chatDocs,
    ...completionDocs,
    ...embeddingDocs,
    ...modelDocs,
    ...imageDocs,
    ...usageDocs,
  ];
}

/** `stats`: the isolate's request-stats aggregator, shared with the worker's cron flush (index.ts). */
export function createApp(options: { stats?: StatsAggregator } = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requestId());
  // Request monitoring (stats/): counted in the isolate, written to D1 in the background; not the console.
  app.use("*", requestStats({ stats: options.stats, skipPrefixes: ["/console", "/health"] }));
  // Settings are parsed before any route runs: a bad one answers 503 `misconfigured` naming it (errors.ts).
  app.use("*", async (c, next) => {
    gatewayConfig(c.env);
    await next();
  });
  app.use("/v1/*", corsMiddleware());
  app.route("/", metaRoutes(allRouteDocs));
  app.route("/console", consoleRoutes);
  app.route("/admin/v1", adminRoutes);
  app.route("/v1/me", meRoutes);
  app.route("/v1/pools", poolRoutes);
  app.route("/v1/jobs", jobRoutes);
  app.route("/v1/templates", templateRoutes);
  app.route("/v1/files", fileRoutes);
  app.route("/runner/v1", runnerRoutes);
  app.route("/v1/chat/completions", chatRoutes());
  app.route("/v1/completions", completionRoutes());
  app.route("/v1/embeddings", embeddingRoutes());
  app.route("/v1/models", modelRoutes());
  app.route("/v1/images", imageRoutes);
  app.route("/v1/usage", usageRoutes);
  app.onError(renderError);
  app.notFound(notFoundHandler(app));
  return app;
}
