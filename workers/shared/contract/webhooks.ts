/** Queue "webhooks" message and the delivery log shape (design.md "Webhooks"). */
import { z } from "zod";

export const WebhookType = z.enum(["job.started", "job.progress", "job.succeeded", "job.failed", "job.canceled"]);

export const WebhookMessage = z.object({
  /** The Standard Webhooks `webhook-id`: stable across every retry and redelivery of this event. */
  event_id: z.string().min(1).max(200),
  type: WebhookType,
  sequence: z.int().min(1),
  /** Event time, unix ms. */
  at: z.number(),
  job_id: z.string(),
  tenant_id: z.string(),
  url: z.string(),
  /** Gateway origin at submit (local presigning when R2_S3_ENDPOINT is empty). */
  origin: z.string(),
  /** JobView snapshot at the event. */
  job: z.looseObject({ id: z.string(), status: z.string(), outputs: z.array(z.looseObject({ key: z.string() })) }),
  redelivery: z.boolean().optional(),
  /** Redeliveries: when it was asked for (epoch ms); a delivery logged after that time satisfies it. */
  redelivery_at: z.number().optional(),
});
export type WebhookMessage = z.infer<typeof WebhookMessage>;

export const WebhookDelivery = z
  .object({
    id: z.string().describe("webhook-id"),
    event: WebhookType,
    sequence: z.int(),
    url: z.string(),
    status: z.enum(["pending", "delivered", "failed", "gone", "skipped"]),
    attempts: z.int(),
    status_code: z.int().nullable(),
    latency_ms: z.int().nullable(),
    next_retry_at: z.string().nullable(),
    last_error: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: "WebhookDelivery" });

export const RedeliverRequest = z
  .object({ event_ids: z.array(z.string().min(1).max(200)).min(1).max(100).optional() })
  .strict();

export interface JobWebhookRpc {
  /** The consumer is done with this event (delivered, gone or dead-lettered): stop re-sending it. */
  ackWebhook(eventId: string): Promise<void>;
  /**
   * The consumer holds this event and will try it again at `nextAttemptAt` (epoch ms). The job object then
   * re-sends the event only if nothing more is heard of it by that time plus a grace period, so an event lost
   * with an in-memory queue (a crash or restart) goes out again promptly, while one that is merely waiting for
   * its retry is not duplicated.
   */
  webhookPending(eventId: string, nextAttemptAt: number): Promise<void>;
}
