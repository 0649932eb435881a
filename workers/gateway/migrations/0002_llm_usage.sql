-- LLM proxy usage per key per UTC day (issue 4), flushed from the key's Durable Object with the
-- request counts. Layout documented in workers/gateway/STORAGE.md.
ALTER TABLE usage_daily ADD COLUMN llm_requests INTEGER NOT NULL DEFAULT 0;      -- answered chat completions
ALTER TABLE usage_daily ADD COLUMN prompt_tokens INTEGER NOT NULL DEFAULT 0;     -- from the upstream's usage
ALTER TABLE usage_daily ADD COLUMN completion_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_daily ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;        -- answers served from the KV cache
ALTER TABLE usage_daily ADD COLUMN tokens_saved INTEGER NOT NULL DEFAULT 0;      -- prompt + completion tokens of those answers
