/**
 * One Durable Object per tenant that limits queued jobs (`max_queued_jobs`): a job reserves a slot when its
 * job object is created and gives it back (through that object's outbox, so a release is never lost) when
 * it first starts or ends. Reservations are atomic (one object, synchronous SQL), so N parallel submits
 * against a limit of M accept exactly min(N, M). Storage layout: workers/gateway/STORAGE.md.
 */
import { DurableObject } from "cloudflare:workers";

export type ReserveResult = { ok: true } | { ok: false; held: number };

export class QueueSlotsDO extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS slots (job_id TEXT PRIMARY KEY, reserved_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
    );
  }

  /**
   * Reserves a slot for `jobId` unless `max` are held. Idempotent per job. `expiresAt`: a slot whose release
   * never came (it always should) stops counting then.
   */
  async reserve(jobId: string, max: number, expiresAt: number): Promise<ReserveResult> {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    sql.exec("DELETE FROM slots WHERE expires_at <= ?", now);
    if (sql.exec("SELECT 1 FROM slots WHERE job_id = ?", jobId).toArray().length > 0) return { ok: true };
    const held = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM slots").one().n;
    if (held >= max) return { ok: false, held };
    sql.exec("INSERT INTO slots (job_id, reserved_at, expires_at) VALUES (?, ?, ?)", jobId, now, expiresAt);
    return { ok: true };
  }

  async release(jobId: string): Promise<void> {
    this.ctx.storage.sql.exec("DELETE FROM slots WHERE job_id = ?", jobId);
  }

  /** Slots held now. */
  async held(): Promise<number> {
    const sql = this.ctx.storage.sql;
    return sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM slots WHERE expires_at > ?", Date.now()).one().n;
  }
}

export type QueueSlotsApi = Pick<QueueSlotsDO, "reserve" | "release" | "held">;

export function queueSlotsStub(env: { QUEUE_SLOTS: DurableObjectNamespace<QueueSlotsDO> }, tenantId: string) {
  return env.QUEUE_SLOTS.get(env.QUEUE_SLOTS.idFromName(tenantId)) as DurableObjectStub<QueueSlotsDO>;
}
