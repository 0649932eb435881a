// `wrangler deploy --dry-run` for both workers (bundles and validates the config without an account).
import { bin, run } from "./lib.mjs";

for (const [config, out] of [
  ["wrangler.toml", ".tmp/dry/gateway"],
  ["workers/queue-consumer/wrangler.toml", ".tmp/dry/consumer"],
]) {
  const code = await run(bin("wrangler"), ["deploy", "--dry-run", "-c", config, "--outdir", out], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  if (code !== 0) {
    console.error(`wrangler deploy --dry-run failed for ${config}`);
    process.exit(code);
  }
  console.log(`wrangler deploy --dry-run: ${config} ok`);
}
