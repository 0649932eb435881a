#!/usr/bin/env bash
# Creates the Cloudflare resources comfy-edge needs (idempotent where wrangler allows) and applies the
# D1 migrations. Needs `wrangler login` or CLOUDFLARE_API_TOKEN + CLOUDFLARE_ACCOUNT_ID.
# Prints the ids to put in wrangler.toml; then see infra/README.md for secrets and deploy.
set -euo pipefail
cd "$(dirname "$0")/.."
W="npx wrangler"
$W d1 create comfy-edge || echo "(d1 comfy-edge exists)"
$W kv namespace create LLM_CACHE || echo "(kv LLM_CACHE exists)"
$W r2 bucket create comfy-edge-files || echo "(bucket exists)"
for q in jobs jobs-dlq webhooks webhooks-dlq; do $W queues create "$q" || echo "(queue $q exists)"; done
$W r2 bucket lifecycle add comfy-edge-files uploads-expire uploads/ --expire-days 7 || true
echo "Update database_id / kv id in wrangler.toml and workers/queue-consumer/wrangler.toml, then run:"
echo "  npx wrangler d1 migrations apply DB --remote && npx wrangler deploy && npx wrangler deploy -c workers/queue-consumer/wrangler.toml"
