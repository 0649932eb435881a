/**
 * What `npm start` says about the LLM proxy before it starts the stack: the configured upstreams, one
 * line each, or why LLM_UPSTREAMS / LLM_UPSTREAM_URL is invalid (the start then stops, instead of every
 * LLM request answering 503 later). Pure: the caller passes the vars and says which secrets are set.
 */
import { type LlmVars, parseLlmConfig } from "./config.ts";

export type LlmStartupReport = { ok: true; lines: string[] } | { ok: false; reason: string };

export function llmStartupReport(vars: Partial<LlmVars>, hasSecret: (name: string) => boolean): LlmStartupReport {
  const parsed = parseLlmConfig(vars);
  if (!parsed.ok) return { ok: false, reason: `${parsed.reason}. See docs/llm.md.` };
  const { upstreams } = parsed.config;
  if (upstreams.length === 0) {
    return {
      ok: true,
      lines: ["LLM proxy: no upstream configured (set LLM_UPSTREAMS, or LLM_UPSTREAM_URL=http://127.0.0.1:11434/v1)."],
    };
  }
  const lines = [`LLM proxy: ${upstreams.length} upstream${upstreams.length === 1 ? "" : "s"}, tried in this order:`];
  for (const u of upstreams) {
    const via = u.binding === null ? u.baseUrl : `${u.baseUrl} via binding ${u.binding}`;
    const key = u.apiKeySecret === null ? "no key" : `key from ${u.apiKeySecret}`;
    lines.push(`  ${u.name}: ${via} (models ${u.models.join(", ")}; ${key}; ${u.maxRetries} retries)`);
    if (u.apiKeySecret !== null && !hasSecret(u.apiKeySecret)) {
      lines.push(
        `  WARNING: ${u.apiKeySecret} is not set (add it to .dev.vars): requests for these models skip '${u.name}'.`,
      );
    }
  }
  return { ok: true, lines };
}
