/**
 * The pool's queue in dispatch order: tenants by when they were last served (`rr`, never served first),
 * FIFO within one; a tenant at its `max_running` (a row's own cap against the tenant's running count) is
 * skipped. The same order as one query sorting the whole queue (`ORDER BY last_served, enqueued_at`), read
 * without a sort: the queued tenants come from index `queued_tenant (tenant_id, enqueued_at)` one seek
 * each (a skip scan), and each tenant's jobs from the same index, oldest first, read only as far as the
 * caller looks. Tenants served in the same millisecond (or never) are merged by enqueue time.
 */

export type QueuedRow = {
  job_id: string;
  attempt: number;
  tenant_id: string;
  max_running: number | null;
  needs: string | null;
  enqueued_at: number;
};

interface TenantTurn {
  tenant_id: string;
  last_served: number;
  running: number;
}

function tenantsInTurn(sql: SqlStorage): TenantTurn[] {
  return sql
    .exec<{ tenant_id: string; last_served: number; running: number }>(
      `WITH RECURSIVE t(tenant_id) AS (
         SELECT MIN(tenant_id) FROM queued
         UNION ALL
         SELECT (SELECT MIN(q.tenant_id) FROM queued q WHERE q.tenant_id > t.tenant_id) FROM t WHERE t.tenant_id IS NOT NULL
       )
       SELECT t.tenant_id, COALESCE(rr.last_served, 0) AS last_served,
              (SELECT COUNT(*) FROM running r WHERE r.tenant_id = t.tenant_id) AS running
         FROM t LEFT JOIN rr ON rr.tenant_id = t.tenant_id
        WHERE t.tenant_id IS NOT NULL
        ORDER BY last_served`,
    )
    .toArray();
}

/**
 * Rows of one tenant, oldest first, read to the end (`toArray`): a cursor left open keeps its prepared
 * statement busy, so the next lease would prepare the statement again (the cost the one-query version paid).
 */
function tenantRows(sql: SqlStorage, turn: TenantTurn, offset: number, limit: number): QueuedRow[] {
  return sql
    .exec<QueuedRow>(
      `SELECT job_id, attempt, tenant_id, max_running, needs, enqueued_at FROM queued
        WHERE tenant_id = ? AND (max_running IS NULL OR max_running > ?)
        ORDER BY enqueued_at LIMIT ? OFFSET ?`,
      turn.tenant_id,
      turn.running,
      limit,
      offset,
    )
    .toArray();
}

/** Rows read at first from a tenant on its own: most leases take the first one a runner can run. */
const FIRST_PAGE = 8;

/** Queued rows in dispatch order, at most `limit` of them (read a page at a time, as far as the caller looks). */
export function* queuedInOrder(sql: SqlStorage, limit: number): Generator<QueuedRow> {
  const turns = tenantsInTurn(sql);
  let left = limit;
  for (let i = 0; i < turns.length && left > 0; ) {
    // Tenants with the same last_served take their jobs in enqueue order between them.
    let j = i + 1;
    while (j < turns.length && turns[j]!.last_served === turns[i]!.last_served) j++;
    if (j === i + 1) {
      for (let offset = 0, page = Math.min(left, FIRST_PAGE); left > 0; page = left) {
        const rows = tenantRows(sql, turns[i]!, offset, page);
        for (const row of rows) {
          left--;
          yield row;
        }
        if (rows.length < page) break;
        offset += rows.length;
      }
    } else {
      const rows = turns.slice(i, j).flatMap((t) => tenantRows(sql, t, 0, left));
      rows.sort((a, b) => a.enqueued_at - b.enqueued_at);
      for (const row of rows.slice(0, left)) yield row;
      left -= Math.min(left, rows.length);
    }
    i = j;
  }
}
