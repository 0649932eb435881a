/**
 * The pool's capability reports, in its Durable Object's SQLite (STORAGE.md): reports by digest, which
 * digest each runner (token, id) last leased with, and the union of the live runners' reports. Parsed
 * reports and the union are held in the object's memory, keyed by digest (a digest names one report).
 */
import { CapabilityReport, type DispatchNeeds } from "../../../shared/contract/index.ts";
import { sha256Hex } from "../../../shared/crypto.ts";
import { CapIndex, type PoolCapabilities, unionReports } from "../capabilities/union.ts";

/** Reports no runner has leased with for this long are deleted. */
const REPORT_KEEP_MS = 7 * 24 * 3600_000;

export type WaitingFor = { node_class: string } | { model: { folder: string; name: string } };

export class CapabilityStore {
  private readonly sql: SqlStorage;
  private readonly liveMs: number;
  private readonly parsed = new Map<string, { report: CapabilityReport; index: CapIndex }>();
  private union: PoolCapabilities | null = null;

  constructor(sql: SqlStorage, liveMs: number) {
    this.sql = sql;
    this.liveMs = liveMs;
    sql.exec(
      "CREATE TABLE IF NOT EXISTS capability_reports (digest TEXT PRIMARY KEY, report TEXT NOT NULL, received_at INTEGER NOT NULL)",
    );
    sql.exec(`CREATE TABLE IF NOT EXISTS runner_caps (token_id TEXT NOT NULL, runner_id TEXT NOT NULL, digest TEXT NOT NULL,
      last_seen INTEGER NOT NULL, PRIMARY KEY (token_id, runner_id, digest))`);
  }

  has(digest: string): boolean {
    return this.sql.exec("SELECT 1 FROM capability_reports WHERE digest = ?", digest).toArray().length > 0;
  }

  /** Stores a report (already checked against its digest by the route). */
  put(digest: string, report: CapabilityReport, now: number): void {
    this.sql.exec(
      "INSERT INTO capability_reports (digest, report, received_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING",
      digest,
      JSON.stringify(report),
      now,
    );
    this.sql.exec(
      `DELETE FROM capability_reports WHERE received_at < ? AND digest NOT IN (SELECT digest FROM runner_caps WHERE last_seen >= ?)`,
      now - REPORT_KEEP_MS,
      now - REPORT_KEEP_MS,
    );
    this.sql.exec("DELETE FROM runner_caps WHERE last_seen < ?", now - REPORT_KEEP_MS);
  }

  seen(tokenId: string, runnerId: string, digest: string, now: number): void {
    this.sql.exec(
      `INSERT INTO runner_caps (token_id, runner_id, digest, last_seen) VALUES (?, ?, ?, ?)
       ON CONFLICT (token_id, runner_id, digest) DO UPDATE SET last_seen = excluded.last_seen`,
      tokenId,
      runnerId,
      digest,
      now,
    );
  }

  /** The parsed report and its index, or null if the pool does not hold it. */
  get(digest: string): { report: CapabilityReport; index: CapIndex } | null {
    const hit = this.parsed.get(digest);
    if (hit) return hit;
    const row = this.sql
      .exec<{ report: string }>("SELECT report FROM capability_reports WHERE digest = ?", digest)
      .toArray()[0];
    if (!row) return null;
    const report = CapabilityReport.parse(JSON.parse(row.report));
    const entry = { report, index: new CapIndex(report) };
    this.parsed.set(digest, entry);
    return entry;
  }

  /** Digests of the live runners' reports, one row per live (token, runner, digest). */
  liveDigests(now: number): string[] {
    return this.sql
      .exec<{ digest: string }>("SELECT digest FROM runner_caps WHERE last_seen > ? ORDER BY digest", now - this.liveMs)
      .toArray()
      .map((r) => r.digest);
  }

  /** The union of the live runners' reports, or null when none reports. */
  async capabilities(now: number): Promise<PoolCapabilities | null> {
    const live = this.liveDigests(now);
    if (live.length === 0) return null;
    const distinct = [...new Set(live)];
    const digest = await sha256Hex(distinct.join(","));
    if (this.union?.digest === digest) return { ...this.union, runners: live.length };
    const reports = distinct.flatMap((d) => {
      const r = this.get(d);
      return r ? [r.report] : [];
    });
    this.union = { digest, runners: live.length, ...unionReports(reports) };
    return this.union;
  }

  /** What `needs` lacks on the runner that leased with `digest` (null: it can run the job). */
  missing(digest: string, needs: DispatchNeeds): WaitingFor | null {
    const entry = this.get(digest);
    if (!entry) return null;
    for (const c of needs.node_classes) if (!entry.index.classes.has(c)) return { node_class: c };
    for (const m of needs.models) if (!entry.index.files(m.folder).has(m.name)) return { model: m };
    return null;
  }
}
