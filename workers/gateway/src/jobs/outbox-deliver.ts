/** Sends one outbox entry to where it is owed (queues, D1 index, pool dispatcher, R2, queued-job counter). */
import { jobShardStub } from "../pools/shards.ts";
import type { OutboxEntry } from "./outbox.ts";
import { queueSlotsStub } from "./queue-slots.ts";

export async function deliver(env: Env, jobId: string, entry: OutboxEntry): Promise<void> {
  switch (entry.kind) {
    case "dispatch":
      await env.JOBS_QUEUE.send(entry.payload);
      return;
    case "webhook":
      await env.WEBHOOKS_QUEUE.send(entry.payload);
      return;
    case "index": {
      const p = entry.payload;
      await env.DB.prepare(
        `INSERT INTO jobs_index (id, tenant_id, key_id, pool, status, seq, created_at, completed_at, run_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, seq = excluded.seq,
           completed_at = excluded.completed_at, run_ms = excluded.run_ms
         WHERE excluded.seq > jobs_index.seq`,
      )
        .bind(
          p.id,
          p.tenant_id,
          p.key_id ?? null,
          p.pool,
          p.status,
          p.seq,
          p.created_at,
          p.completed_at ?? null,
          p.run_ms ?? null,
        )
        .run();
      return;
    }
    case "pool_release":
      // The job's shard of its pool (pools/shards.ts; a 1-shard pool: the pool's object, as before).
      await (await jobShardStub(env, entry.payload.pool, entry.payload.job_id)).stub.release(
        entry.payload.job_id,
        entry.payload.attempt,
      );
      return;
    case "sweep": {
      const keep = entry.payload.keep_attempt === null ? null : `jobs/${jobId}/a${entry.payload.keep_attempt}/`;
      await deletePrefix(env.FILES, `jobs/${jobId}/a`, keep);
      return;
    }
    case "slot_release":
      await queueSlotsStub(env, entry.payload.tenant_id).release(entry.payload.job_id);
      return;
  }
}

/** Deletes every object under `prefix` except those under `keep`. */
export async function deletePrefix(bucket: R2Bucket, prefix: string, keep: string | null = null): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    const keys = page.objects.map((o) => o.key).filter((k) => keep === null || !k.startsWith(keep));
    if (keys.length > 0) await bucket.delete(keys);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}
