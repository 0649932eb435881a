/** The counter columns of D1 `usage_daily`, in one place for the flush here and GET /v1/usage. */
export const USAGE_FIELDS = [
  "requests",
  "rate_limited",
  "llm_requests",
  "prompt_tokens",
  "completion_tokens",
  "cache_hits",
  "tokens_saved",
] as const;
