import { z } from "zod";

export const Scope = z.enum(["llm", "jobs"]);
export type Scope = z.infer<typeof Scope>;

/** Host pattern for allowlists: exact host or `*.example.com`. */
export const HostPattern = z
  .string()
  .min(1)
  .max(253)
  .regex(/^(\*\.)?[^\s/:@*]+$/, "must be a host name like images.example.com or a wildcard like *.example.com");

export const PoolName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,62}$/,
    "must be 1-63 lower-case letters, digits or '-', starting with a letter or digit",
  );

export const Limits = z
  .object({
    requests_per_minute: z.int().min(1).max(1_000_000).nullish(),
    max_queued_jobs: z.int().min(1).max(1_000_000).nullish(),
    max_running_jobs: z.int().min(1).max(100_000).nullish(),
    queue_timeout_s: z
      .int()
      .min(1)
      .max(7 * 24 * 3600)
      .nullish(),
  })
  .strict();

export const ErrorEnvelope = z
  .object({
    error: z.object({
      type: z.string(),
      code: z.string(),
      message: z.string(),
      param: z.string().nullable(),
      request_id: z.string(),
    }),
  })
  .meta({ id: "Error" });
