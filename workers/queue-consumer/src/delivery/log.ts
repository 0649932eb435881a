/** The webhook delivery log (D1 `webhook_deliveries`, one row per event id): what the consumer reads and writes. */
import type { WebhookMessage } from "@comfy-edge/shared/contract";

export type DeliveryStatus = "pending" | "delivered" | "failed" | "gone" | "skipped";

export interface DeliveryRow {
  status: DeliveryStatus;
  attempts: number;
  updated_at: number;
}

export interface TenantSecrets {
  webhook_secret: string;
  webhook_secret_previous: string | null;
  webhook_secret_previous_expires_at: number | null;
  webhook_host_allowlist: string | null;
}

export interface OpenedDelivery {
  row: DeliveryRow;
  /** The receiver answered 410 to an earlier event of this job at this URL. */
  gone: boolean;
  tenant: TenantSecrets | null;
}

/**
 * The first thing done with an event, in one D1 round trip: its row is created as `pending` if the log
 * has none yet (so every event the consumer has seen is visible), then the row, the job's 410 record and
 * the tenant's secrets are read.
 */
export async function openDelivery(db: D1Database, msg: WebhookMessage, now = Date.now()): Promise<OpenedDelivery> {
  const [, rows, gone, tenants] = await db.batch([
    db
      .prepare(
        `INSERT INTO webhook_deliveries (id, job_id, tenant_id, event, sequence, url, status, attempts, status_code,
           latency_ms, next_retry_at, last_error, payload, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, NULL, NULL, ?, NULL, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING`,
      )
      .bind(
        msg.event_id,
        msg.job_id,
        msg.tenant_id,
        msg.type,
        msg.sequence,
        msg.url,
        now,
        JSON.stringify(msg),
        now,
        now,
      ),
    db.prepare("SELECT status, attempts, updated_at FROM webhook_deliveries WHERE id = ?").bind(msg.event_id),
    db
      .prepare(
        "SELECT 1 AS x FROM webhook_deliveries WHERE job_id = ? AND url = ? AND status = 'gone' AND id != ? LIMIT 1",
      )
      .bind(msg.job_id, msg.url, msg.event_id),
    db
      .prepare(
        "SELECT webhook_secret, webhook_secret_previous, webhook_secret_previous_expires_at, webhook_host_allowlist FROM tenants WHERE id = ?",
      )
      .bind(msg.tenant_id),
  ]);
  const row = (rows?.results[0] as DeliveryRow | undefined) ?? { status: "pending", attempts: 0, updated_at: now };
  return {
    row,
    gone: (gone?.results.length ?? 0) > 0,
    tenant: (tenants?.results[0] as TenantSecrets | undefined) ?? null,
  };
}

/**
 * The event needs nothing more: delivered (after the redelivery request, for a redelivery), or finished
 * for good (failed, gone, skipped) and not asked for again.
 */
export function alreadyDone(row: DeliveryRow, msg: WebhookMessage): boolean {
  if (msg.redelivery)
    return row.status === "delivered" && row.updated_at >= (msg.redelivery_at ?? Number.POSITIVE_INFINITY);
  return row.status !== "pending";
}

export interface LogUpdate {
  status: DeliveryStatus;
  /** This update reports one attempt (counted in `attempts`). */
  attempted: boolean;
  status_code: number | null;
  latency_ms: number | null;
  next_retry_at: number | null;
  last_error: string | null;
}

export async function writeLog(
  db: D1Database,
  msg: WebhookMessage,
  update: LogUpdate,
  now = Date.now(),
): Promise<void> {
  const counted = update.attempted ? 1 : 0;
  await db
    .prepare(
      `INSERT INTO webhook_deliveries (id, job_id, tenant_id, event, sequence, url, status, attempts, status_code, latency_ms,
         next_retry_at, last_error, payload, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, attempts = webhook_deliveries.attempts + ?,
         status_code = excluded.status_code, latency_ms = excluded.latency_ms, next_retry_at = excluded.next_retry_at,
         last_error = excluded.last_error, updated_at = excluded.updated_at`,
    )
    .bind(
      msg.event_id,
      msg.job_id,
      msg.tenant_id,
      msg.type,
      msg.sequence,
      msg.url,
      update.status,
      counted,
      update.status_code,
      update.latency_ms,
      update.next_retry_at,
      update.last_error?.slice(0, 500) ?? null,
      JSON.stringify(msg),
      now,
      now,
      counted,
    )
    .run();
}
