/** Runner API (pool-scoped runner tokens): long-poll leases, heartbeats, upload URLs, events, give-back. */

import {
  CancelWaitRequest,
  CancelWaitResponse,
  ErrorEnvelope,
  EventAck,
  HeartbeatResponse,
  LeaseGrant,
  LeaseRequest,
  RunnerEvent,
  UploadRequest,
  UploadResponse,
} from "@comfy-edge/shared/contract";
import { randomBase62 } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import { Presigner } from "@comfy-edge/shared/presign";
import { type Context, Hono } from "hono";
import { z } from "zod";
import { capabilityDocs, capabilityRoutes } from "../capabilities/runner-routes.ts";
import { leaseId, parseLeaseId } from "../jobs/lease-token.ts";
import { jobStub } from "../jobs/public.ts";
import type { FenceResult } from "../jobs/state.ts";
import { readJson } from "../lib/body.ts";
import { iso } from "../lib/time.ts";
import { runnerAuth } from "../middleware/runner-auth.ts";
import { manifestRunnerDocs, manifestRunnerRoutes } from "../models/runner-routes.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { disposeRpcResult } from "../pools/rpc-result.ts";
import { leaseFromPool } from "../pools/shard-lease.ts";
import type { AppEnv } from "../types.ts";

const INPUT_URL_TTL_S = 3600;
const UPLOAD_URL_TTL_S = 900;
const DEFAULT_WAIT_S = 20;
const DEFAULT_CANCEL_WAIT_S = 20;

export const runnerRoutes = new Hono<AppEnv>();
runnerRoutes.use("*", runnerAuth());
runnerRoutes.route("/capabilities", capabilityRoutes);
runnerRoutes.route("/manifest", manifestRunnerRoutes);

async function lease(c: Context<AppEnv>) {
  const id = c.req.param("id") ?? "";
  const parsed = await parseLeaseId(c.env.SIGNING_SECRET, id);
  if (!parsed) throw new ApiError(404, "lease_not_found", "Unknown lease id.");
  const stub = jobStub(c.env, parsed.jobId);
  if (!stub) throw new ApiError(404, "lease_not_found", "Unknown lease id.");
  return { ...parsed, stub, pool: c.get("runner").pool };
}

type Fenced = FenceResult<object> | { ok: false; code: string; message: string };

function fenced<R extends Fenced>(result: R): asserts result is Extract<R, { ok: true }> {
  if (result.ok) return;
  if (result.code === "lease_lost") throw new ApiError(409, "lease_lost", result.message);
  if (result.code === "output_missing") throw new ApiError(422, "output_missing", result.message, { param: "outputs" });
  if (result.code === "too_many_uploads") throw new ApiError(422, "too_many_uploads", result.message);
  throw new ApiError(404, "lease_not_found", result.message);
}

/** A presigned PUT for one output of attempt `attempt`, under jobs/{job}/a{attempt}/ (what the success check requires). */
async function mintUpload(presigner: Presigner, jobId: string, attempt: number, filename: string) {
  const safe = filename.replace(/[^A-Za-z0-9._-]/g, "_").slice(-120);
  const key = `jobs/${jobId}/a${attempt}/${randomBase62(8)}-${safe}`;
  const signed = await presigner.sign("PUT", key, UPLOAD_URL_TTL_S);
  return { key, upload_url: signed.url, expires_at: iso(signed.expiresAt) };
}

runnerRoutes.post("/lease", async (c) => {
  const body = await readJson(c, LeaseRequest, { maxBytes: 16 * 1024 });
  const { pool, tokenId } = c.get("runner");
  const waitMs = Math.round((body.wait_s ?? DEFAULT_WAIT_S) * 1000);
  const runner = {
    token_id: tokenId,
    runner_id: body.runner_id,
    version: body.version,
    comfyui_version: body.comfyui_version ?? null,
    slots: body.slots ?? 1,
    digest: body.capabilities_digest ?? null,
  };
  // Lost grants: a runner that dies in the middle of its long poll leaves its poll registered in the pool.
  // Before the pool answers a waiting poll it asks this handler whether its caller is still there; when the
  // runner hung up (workerd cancels this handler, so the call fails, or the signal says so) the pool gives
  // the job back at once instead of leaving it "running" on nobody until the lease expires.
  const alive = () => !c.req.raw.signal.aborted;
  // A sharded pool: every shard in turn, then a poll parked on all of them (pools/shard-lease.ts).
  const grant = await leaseFromPool(c.env, pool, {
    runner,
    waitMs,
    alive,
    waitUntil: (p) => c.executionCtx.waitUntil(p),
  });
  if (grant === "capabilities_required") {
    throw new ApiError(
      409,
      "capabilities_required",
      "The gateway does not hold the capability report with this capabilities_digest: PUT /runner/v1/capabilities {digest, report}, then lease again.",
      { param: "capabilities_digest" },
    );
  }
  if (!grant) return c.body(null, 204);
  if (c.req.raw.signal.aborted) {
    // Hung up after the pool's check: give the job back here (no attempt counted).
    disposeRpcResult(await jobStub(c.env, grant.job_id)?.giveBack(grant.attempt, pool));
    throw new ApiError(
      409,
      "lease_abandoned",
      "The runner disconnected before the lease was delivered; the job was given back.",
    );
  }
  const presigner = new Presigner(c.env, new URL(c.req.url).origin);
  const inputs = await Promise.all(
    grant.inputs.map(async (i) => {
      const head = await c.env.FILES.head(i.key);
      return {
        node_id: i.node_id,
        name: `${grant.job_id.slice(4, 16)}-${i.node_id}`,
        url: (await presigner.sign("GET", i.key, INPUT_URL_TTL_S)).url,
        content_type: head?.httpMetadata?.contentType ?? null,
      };
    }),
  );
  // Upload URLs for the outputs the workflow is expected to save (jobs/expected-outputs.ts), so the runner
  // does not ask for them one round trip each; already counted by the job object at the grant.
  const uploads = await Promise.all(
    Array.from({ length: grant.uploads ?? 0 }, (_, i) => mintUpload(presigner, grant.job_id, grant.attempt, `out${i}`)),
  );
  const body200: z.infer<typeof LeaseGrant> = {
    lease: {
      id: await leaseId(c.env.SIGNING_SECRET, grant.job_id, grant.attempt),
      attempt: grant.attempt,
      expires_at: iso(grant.expires_at),
      duration_s: (grant.expires_at - Date.now()) / 1000,
    },
    job: { id: grant.job_id, workflow: grant.workflow, output: grant.output, timeout_s: grant.timeout_s },
    inputs,
    ...(uploads.length > 0 ? { uploads } : {}),
  };
  return c.json(body200);
});

runnerRoutes.post("/leases/:id/heartbeat", async (c) => {
  const l = await lease(c);
  const result = await l.stub.heartbeat(l.attempt, l.pool);
  fenced(result);
  return c.json({ expires_at: iso(result.expires_at), cancel: result.cancel });
});

runnerRoutes.post("/leases/:id/cancel-wait", async (c) => {
  const l = await lease(c);
  // The body is optional: no body means the default wait.
  const bodyless = c.req.header("content-type") === undefined && (c.req.header("content-length") ?? "0") === "0";
  const body = bodyless ? {} : await readJson(c, CancelWaitRequest, { maxBytes: 1024 });
  const waitMs = Math.round((body.wait_s ?? DEFAULT_CANCEL_WAIT_S) * 1000);
  const result = await l.stub.waitCancel(l.attempt, l.pool, waitMs);
  fenced(result);
  return c.json({ cancel: result.cancel });
});

runnerRoutes.post("/leases/:id/uploads", async (c) => {
  const l = await lease(c);
  const body = await readJson(c, UploadRequest, { maxBytes: 16 * 1024 });
  fenced(await l.stub.checkLease(l.attempt, l.pool));
  const presigner = new Presigner(c.env, new URL(c.req.url).origin);
  return c.json(await mintUpload(presigner, l.jobId, l.attempt, body.filename), 201);
});

runnerRoutes.post("/leases/:id/events", async (c) => {
  const l = await lease(c);
  const event = await readJson(c, RunnerEvent, { maxBytes: 1024 * 1024 });
  const result = await l.stub.runnerEvent(l.attempt, l.pool, event);
  fenced(result);
  return c.json({ status: result.status, cancel: result.cancel });
});

runnerRoutes.delete("/leases/:id", async (c) => {
  const l = await lease(c);
  const result = await l.stub.giveBack(l.attempt, l.pool);
  fenced(result);
  return c.json({ status: result.status });
});

const E = (description: string) => ({ description, schema: ErrorEnvelope });
const common = {
  401: E("Missing, invalid or revoked runner token"),
  404: E("Unknown lease"),
  409: E("lease_lost: another attempt owns the job"),
};

export const runnerDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/runner/v1/lease",
    summary: "Long-poll for a job of this token's pool",
    tag: "Runner",
    security: "runner",
    body: LeaseRequest,
    responses: {
      200: { description: "A lease", schema: LeaseGrant },
      204: { description: "No job within wait_s" },
      400: E("Invalid request"),
      401: E("Missing, invalid or revoked runner token"),
      409: E("capabilities_required: send the report of capabilities_digest (PUT /runner/v1/capabilities)"),
    },
  },
  ...capabilityDocs,
  ...manifestRunnerDocs,
  {
    method: "post",
    path: "/runner/v1/leases/:id/heartbeat",
    summary: "Extend the lease; tells the runner to cancel",
    tag: "Runner",
    security: "runner",
    responses: { 200: { description: "Extended", schema: HeartbeatResponse }, ...common },
  },
  {
    method: "post",
    path: "/runner/v1/leases/:id/cancel-wait",
    summary: "Long-poll for a cancel of this lease's job",
    description:
      "Answered `{cancel: true}` as soon as the client cancels the job (at once if it already has), else `{cancel: false}` after `wait_s` (default 20, at most 25); ask again. 409 `lease_lost` once the lease is no longer current. Does not extend the lease.",
    tag: "Runner",
    security: "runner",
    body: CancelWaitRequest,
    bodyOptional: true,
    responses: { 200: { description: "Cancel requested or not", schema: CancelWaitResponse }, ...common },
  },
  {
    method: "post",
    path: "/runner/v1/leases/:id/uploads",
    summary: "Mint a presigned PUT for one output of this attempt",
    description:
      "At most MAX_OUTPUTS (100) upload URLs per attempt (422 `too_many_uploads`). On `succeeded` the gateway checks each output against R2: size (MAX_OUTPUT_BYTES per job, 1 GiB) and its first bytes against the declared content type; a job whose outputs break a limit or lie about their type fails (`too_many_outputs`, `output_too_large`, `output_type_mismatch`) and its objects are deleted.",
    tag: "Runner",
    security: "runner",
    body: UploadRequest,
    responses: {
      201: { description: "Upload URL", schema: UploadResponse },
      422: E("too_many_uploads: this attempt has minted the most upload URLs a job may have"),
      ...common,
    },
  },
  {
    method: "post",
    path: "/runner/v1/leases/:id/events",
    summary: "Report started, progress, succeeded, failed or canceled",
    tag: "Runner",
    security: "runner",
    body: RunnerEvent,
    responses: { 200: { description: "Accepted", schema: EventAck }, 422: E("An output was not uploaded"), ...common },
  },
  {
    method: "delete",
    path: "/runner/v1/leases/:id",
    summary: "Give the job back (no attempt counted)",
    tag: "Runner",
    security: "runner",
    responses: { 200: { description: "Re-queued", schema: z.object({ status: z.string() }) }, ...common },
  },
];
