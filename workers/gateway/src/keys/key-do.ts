/**
 * One Durable Object per API key (named by the key's SHA-256): auth state, the rate-limit window and
 * usage counters, answered in ONE call per request. Revocation lands here, so it is immediate.
 * Storage layout: workers/gateway/STORAGE.md.
 */
import { DurableObject } from "cloudflare:workers";
import type { Scope } from "@comfy-edge/shared/contract";
import { gatewayConfig } from "../config.ts";
import type { TenantSnapshot } from "../types.ts";
import { admit, type RateWindow, reservationStep, resumeWindow, type StoredWindow, WINDOW_MS } from "./rate-window.ts";
import { type KeyRecord, loadKeyRecord } from "./record.ts";
import { USAGE_FIELDS } from "./usage-fields.ts";

const USAGE_FLUSH_MS = 10_000;
const RECORD_KEY = "record";
const WINDOW_KEY = "window";

export type AuthDecision =
  | { status: "invalid" }
  | { status: "revoked" }
  | {
      status: "ok" | "limited";
      keyId: string;
      tenantId: string;
      scopes: Scope[];
      tenant: TenantSnapshot;
      limit: number;
      remaining: number;
      /** Unix ms when the current window ends. */
      resetAt: number;
    };

interface UsageCounters {
  requests: number;
  rate_limited: number;
  llm_requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cache_hits: number;
  tokens_saved: number;
}

/** Answered LLM requests (routes/chat.ts; one or a batch of them), recorded off the response path. */
export interface LlmUsage {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cacheHits: number;
  /** Tokens of cached answers served without calling the upstream. */
  tokensSaved: number;
}

function emptyCounters(): UsageCounters {
  return {
    requests: 0,
    rate_limited: 0,
    llm_requests: 0,
    prompt_tokens: 0,
    completion_tokens: 0,
    cache_hits: 0,
    tokens_saved: 0,
  };
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

export class KeyDO extends DurableObject<Env> {
  private record: KeyRecord | null | undefined;
  private loading: Promise<KeyRecord | null> | undefined;
  /** Fixed window starting at the first request after the previous window ended (keys/rate-window.ts). */
  private window: RateWindow | undefined;
  /** Usage not yet flushed to D1, by UTC day. */
  private usage = new Map<string, UsageCounters>();

  private async getRecord(keyHash: string): Promise<KeyRecord | null> {
    if (this.record !== undefined) return this.record;
    const stored = this.ctx.storage.kv.get<KeyRecord>(RECORD_KEY);
    if (stored) {
      this.record = stored;
      return stored;
    }
    this.loading ??= loadKeyRecord(this.env.DB, keyHash).then((record) => {
      if (record) this.ctx.storage.kv.put(RECORD_KEY, record);
      this.record = record;
      this.loading = undefined;
      return record;
    });
    return this.loading;
  }

  /** Auth + rate limit + usage count for one request. */
  async authorize(keyHash: string): Promise<AuthDecision> {
    const record = await this.getRecord(keyHash);
    if (!record) return { status: "invalid" };
    if (record.revoked) return { status: "revoked" };
    const now = Date.now();
    const limit = record.requestsPerMinute ?? gatewayConfig(this.env).requestsPerMinute;
    this.window ??= resumeWindow(this.ctx.storage.kv.get<StoredWindow>(WINDOW_KEY));
    const { window, allowed, store } = admit(this.window, now, limit, this.reservationStep(limit));
    this.window = window;
    // Not awaited: the output gate holds the answer until the write is durable.
    if (store) this.storeWindow(store);
    this.count(now, allowed ? "requests" : "rate_limited");
    return {
      status: allowed ? "ok" : "limited",
      keyId: record.keyId,
      tenantId: record.tenantId,
      scopes: record.scopes,
      tenant: record.tenant,
      limit,
      remaining: limit - this.window.count,
      resetAt: this.window.start + WINDOW_MS,
    };
  }

  /** Requests per window write (overridden by the benchmark to measure a write on every request). */
  protected reservationStep(limit: number): number {
    return reservationStep(limit);
  }

  protected storeWindow(stored: StoredWindow): void {
    this.ctx.storage.kv.put(WINDOW_KEY, stored);
  }

  /** Re-reads the record from D1 (after the key or its tenant changed). */
  async refresh(keyHash: string): Promise<void> {
    const record = await loadKeyRecord(this.env.DB, keyHash);
    if (record) this.ctx.storage.kv.put(RECORD_KEY, record);
    else this.ctx.storage.kv.delete(RECORD_KEY);
    this.record = record;
  }

  /** Marks the key revoked; every later request fails at once. */
  async revoke(keyHash: string): Promise<void> {
    const record = await this.getRecord(keyHash);
    if (!record) return;
    this.record = { ...record, revoked: true };
    this.ctx.storage.kv.put(RECORD_KEY, this.record);
  }

  /** Adds answered LLM requests to the usage counters (flushed to D1 with the others). */
  async recordLlmUsage(usage: LlmUsage): Promise<void> {
    // A fresh instance (evicted since authorize) reloads the record the alarm needs from storage.
    if (this.record === undefined) this.record = this.ctx.storage.kv.get<KeyRecord>(RECORD_KEY) ?? undefined;
    const counters = this.counters(Date.now());
    counters.llm_requests += nonNegative(usage.requests);
    counters.prompt_tokens += nonNegative(usage.promptTokens);
    counters.completion_tokens += nonNegative(usage.completionTokens);
    counters.cache_hits += nonNegative(usage.cacheHits);
    counters.tokens_saved += nonNegative(usage.tokensSaved);
  }

  private flushScheduled = false;

  private count(now: number, field: "requests" | "rate_limited"): void {
    this.counters(now)[field]++;
  }

  private counters(now: number): UsageCounters {
    const day = new Date(now).toISOString().slice(0, 10);
    let counters = this.usage.get(day);
    if (!counters) {
      counters = emptyCounters();
      this.usage.set(day, counters);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.ctx.waitUntil(this.ctx.storage.setAlarm(now + USAGE_FLUSH_MS));
    }
    return counters;
  }

  /** Flushes usage counters to D1. */
  override async alarm(): Promise<void> {
    this.flushScheduled = false;
    const record = this.record;
    if (this.usage.size === 0 || !record) return;
    const pending = this.usage;
    this.usage = new Map();
    try {
      await this.env.DB.batch(
        [...pending].map(([day, c]) =>
          this.env.DB.prepare(
            `INSERT INTO usage_daily (key_id, tenant_id, day, ${USAGE_FIELDS.join(", ")})
             VALUES (?, ?, ?, ${USAGE_FIELDS.map(() => "?").join(", ")})
             ON CONFLICT (key_id, day) DO UPDATE SET ${USAGE_FIELDS.map((f) => `${f} = ${f} + excluded.${f}`).join(", ")}`,
          ).bind(record.keyId, record.tenantId, day, ...USAGE_FIELDS.map((f) => c[f])),
        ),
      );
    } catch (err) {
      // Put the counts back and let the alarm retry (alarms retry with backoff when they throw).
      for (const [day, c] of pending) {
        const cur = this.usage.get(day) ?? emptyCounters();
        for (const f of USAGE_FIELDS) cur[f] += c[f];
        this.usage.set(day, cur);
      }
      throw err;
    }
  }
}
