/**
 * Issue 18 benchmark: model download throughput. One file served by a local HTTPS model server (its own CA,
 * test/models/fixtures), fetched in the same run by
 *  - the runner's downloader (runner/src/models/download.ts: the guarded fetcher with its DNS pinning, the
 *    body streamed to a .part file, SHA-256 verified, renamed into place), and
 *  - a plain `curl` of the same URL to a file (no hashing), and `curl | sha256sum` (the same work as the runner).
 * Each is run `rounds` times on a fresh target; the median is reported.
 *   node bench/models.ts [--quick]
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadModel } from "../runner/src/models/download.ts";
import { modelUrlPolicy } from "../runner/src/models/runtime.ts";
import { startModelServer, TEST_CA, testTransport } from "../test/models/model-server.ts";
import { fmt } from "./lib/load.ts";

export interface ModelsBenchResult {
  file_mb: number;
  rounds: number;
  runner_mb_s: number;
  curl_mb_s: number;
  curl_sha256_mb_s: number;
  /** runner / curl. */
  ratio_vs_curl: number;
}

function run(file: string, args: string[], shell = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const cmd = shell ? "/bin/sh" : file;
    const argv = shell ? ["-c", file] : args;
    execFile(cmd, argv, { maxBuffer: 1024 * 1024 }, (error) => (error ? reject(error) : resolve()));
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

export async function benchModels(quick = false): Promise<ModelsBenchResult> {
  const bytes = randomBytes((quick ? 64 : 256) * 1024 * 1024);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const server = await startModelServer();
  server.files.set("/model.safetensors", bytes);
  const dir = await mkdtemp(join(tmpdir(), "bench-models-"));
  const ca = join(dir, "ca.pem");
  await writeFile(ca, TEST_CA);
  const url = server.url("/model.safetensors", "127.0.0.1");
  const rounds = quick ? 3 : 5;
  const mb = bytes.length / (1024 * 1024);
  const runner: number[] = [];
  const curl: number[] = [];
  const curlHash: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const dest = join(dir, `runner-${i}.safetensors`);
      let t = performance.now();
      await downloadModel(
        { url, dest, sha256, size: bytes.length, maxBytes: bytes.length },
        { policy: modelUrlPolicy(true), transport: testTransport },
      );
      runner.push(mb / ((performance.now() - t) / 1000));
      await rm(dest);
      const out = join(dir, `curl-${i}.bin`);
      t = performance.now();
      await run("curl", ["-sS", "--fail", "--cacert", ca, "-o", out, url]);
      curl.push(mb / ((performance.now() - t) / 1000));
      await rm(out);
      t = performance.now();
      await run(`curl -sS --fail --cacert '${ca}' '${url}' | tee '${out}' | sha256sum > /dev/null`, [], true);
      curlHash.push(mb / ((performance.now() - t) / 1000));
      await rm(out);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    await server.close();
  }
  const result = {
    file_mb: mb,
    rounds,
    runner_mb_s: median(runner),
    curl_mb_s: median(curl),
    curl_sha256_mb_s: median(curlHash),
    ratio_vs_curl: 0,
  };
  result.ratio_vs_curl = result.runner_mb_s / result.curl_mb_s;
  return result;
}

export function printModels(r: ModelsBenchResult): string[] {
  return [
    "## Model downloads (runner vs curl, same file, same local HTTPS server, same run)",
    "",
    `A ${fmt(r.file_mb)} MB file over TLS on loopback, ${r.rounds} rounds each, median. The runner's figure includes its DNS-pinned guarded fetch, the SHA-256 check and the atomic rename.`,
    "",
    "| client | MB/s |",
    "|---|---|",
    `| runner (guarded fetch, SHA-256, .part + rename) | ${fmt(r.runner_mb_s)} |`,
    `| curl -o file | ${fmt(r.curl_mb_s)} |`,
    `| curl \\| tee file \\| sha256sum | ${fmt(r.curl_sha256_mb_s)} |`,
    "",
    `Runner / curl: ${fmt(r.ratio_vs_curl)}.`,
  ];
}

if (import.meta.main) {
  const r = await benchModels(process.argv.includes("--quick"));
  console.log(printModels(r).join("\n"));
}
