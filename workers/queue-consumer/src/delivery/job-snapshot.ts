/**
 * The job snapshot a webhooks message carries (the job object's JobView at the event), parsed before it is
 * rendered into the payload. Loose: a field added by a newer gateway passes through to the payload.
 */

import { JobError, JobStatus, JsonValue } from "@comfy-edge/shared/contract";
import type { JobView } from "@comfy-edge/shared/job-view";
import { z } from "zod";

const InputValue = z.union([z.number(), z.string(), z.boolean()]);
const ms = z.number().nullable();

export const JobSnapshot = z.looseObject({
  id: z.string(),
  status: JobStatus,
  created_at: z.number(),
  started_at: ms,
  completed_at: ms,
  pool: z.string(),
  attempt: z.int(),
  cancel_requested: z.boolean().optional(),
  progress: z.object({ value: z.number(), max: z.number(), node_id: z.string().nullable() }).nullable(),
  resolved_inputs: z.record(z.string(), z.record(z.string(), InputValue)).nullish(),
  template: z
    .object({
      name: z.string(),
      version: z.int(),
      inputs: z.record(z.string(), InputValue),
      seeds: z.record(z.string(), z.array(z.string())),
    })
    .nullish(),
  outputs: z.array(
    z.object({
      index: z.int(),
      key: z.string(),
      node_id: z.string(),
      filename: z.string(),
      content_type: z.string(),
      size: z.number(),
    }),
  ),
  error: JobError.nullable(),
  metadata: z.record(z.string(), JsonValue),
  stats: z.object({ queue_ms: ms, run_ms: ms, upload_ms: ms, total_ms: ms }),
  seq: z.int(),
}) satisfies z.ZodType<JobView>;
