/**
 * The pool's capability reports, in its Durable Object's SQLite (STORAGE.md): reports by digest, which
 * digest each runner (token, id) last leased with, and the union of the live runners' reports. Parsed
 * reports and the union are held in the object's memory, keyed by digest (a digest names one report).
 */
import { CapabilityReport, type DispatchNeeds } from "@comfy-edge/shared/contract";
import { sha256Hex } from "@comfy-edge/shared/crypto";
import { CapIndex, type PoolCapabilities, unionReports } from "../capabilities/union.ts";

/** A report's JSON is stored in parts of this many characters (a SQLite row holds at most 2 MB). */
const PART_CHARS = 512 * 1024;
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
    // One row per report held at most 2 MB; replaced by capability_parts (a report in 512 KiB parts).
    sql.exec("DROP TABLE IF EXISTS capability_reports");
    sql.exec(`CREATE TABLE IF NOT EXISTS capability_parts (digest TEXT NOT NULL, part INTEGER NOT NULL, text TEXT NOT NULL,
      received_at INTEGER NOT NULL, PRIMARY KEY (digest, part))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS runner_caps (token_id TEXT NOT NULL, runner_id TEXT NOT NULL, digest TEXT NOT NULL,
      last_seen INTEGER NOT NULL, PRIMARY KEY (token_id, runner_id, digest))`);
  }

  has(digest: string): boolean {
    return this.sql.exec("SELECT 1 FROM capability_parts WHERE digest = ? AND part = 0", digest).toArray().length > 0;
  }

  /** Stores a report (already checked against its digest by the route). */
  put(digest: string, report: CapabilityReport, now: number): void {
    if (!this.has(digest)) {
      const text = JSON.stringify(report);
      // Parts 1.. first, part 0 last: has() sees a report only once all its parts are written.
      const parts = Math.max(1, Math.ceil(text.length / PART_CHARS));
      for (let i = parts - 1; i >= 0; i--) {
        this.sql.exec(
          "INSERT OR REPLACE INTO capability_parts (digest, part, text, received_at) VALUES (?, ?, ?, ?)",
          digest,
          i,
          text.slice(i * PART_CHARS, (i + 1) * PART_CHARS),
          now,
        );
      }
    }
    this.sql.exec(
      `DELETE FROM capability_parts WHERE received_at < ? AND digest NOT IN (SELECT digest FROM runner_caps WHERE last_seen >= ?)`,
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
    const rows = this.sql
      .exec<{ text: string }>("SELECT text FROM capability_parts WHERE digest = ? ORDER BY part", digest)
      .toArray();
    if (rows.length === 0 || !this.has(digest)) return null;
    const report = CapabilityReport.parse(JSON.parse(rows.map((r) => r.text).join("")));
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

  /** Live runners (runners_seen) that lease without a report: older runners, taken to run anything. */
  unreported(now: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM runners_seen s WHERE s.last_seen > ? AND NOT EXISTS
           (SELECT 1 FROM runner_caps c WHERE c.token_id = s.token_id AND c.runner_id = s.runner_id AND c.last_seen > ?)`,
        now - this.liveMs,
        now - this.liveMs,
      )
      .one().n;
  }

  /** The union of the live runners' reports, or null when none reports. */
  async capabilities(now: number): Promise<PoolCapabilities | null> {
    const live = this.liveDigests(now);
    if (live.length === 0) return null;
    const distinct = [...new Set(live)];
    const digest = await sha256Hex(distinct.join(","));
    const unreported = this.unreported(now);
    if (this.union?.digest === digest) return { ...this.union, runners: live.length, unreported_runners: unreported };
    const reports = distinct.flatMap((d) => {
      const r = this.get(d);
      return r ? [r.report] : [];
    });
    this.union = { digest, runners: live.length, unreported_runners: unreported, ...unionReports(reports) };
    return this.union;
  }

  /** Some live runner can run a job with `needs` (a live runner without a report counts as able). */
  canRun(needs: DispatchNeeds, now: number): boolean {
    if (this.unreported(now) > 0) return true;
    return [...new Set(this.liveDigests(now))].some((d) => !this.missing(d, needs));
  }

  /**
   * The report of `digest` lists every URL model: a file `url-<first 16 hex of the URL's SHA-256>-...` in its
   * folder (the runner's name for a model downloaded by URL, docs/models.md).
   */
  holdsUrlModels(digest: string, urls: NonNullable<DispatchNeeds["url_models"]>): boolean {
    const entry = this.get(digest);
    if (!entry) return false;
    return urls.every((u) => {
      const prefix = `url-${u.url_sha256.slice(0, 16)}-`;
      for (const f of entry.index.files(u.folder)) if (f.startsWith(prefix)) return true;
      return false;
    });
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
