import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ModelEntry } from "@comfy-edge/shared/contract/models";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../runner/src/log.ts";
import { downloadModel, ModelDownloadError } from "../../runner/src/models/download.ts";
import { ModelStore } from "../../runner/src/models/store.ts";
import { ManifestSync } from "../../runner/src/models/sync.ts";
import { UrlModels, urlModelFilename } from "../../runner/src/models/url-models.ts";
import { devPolicy, loopbackResolver, type ModelServer, startModelServer, testTransport } from "./model-server.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const log = createLogger({ level: "error", write: () => undefined });

let server: ModelServer;
let dir: string;
const big = randomBytes(3 * 1024 * 1024 + 17);
const small = randomBytes(4096);

beforeAll(async () => {
  server = await startModelServer();
  server.files.set("/big.safetensors", big);
  server.files.set("/small.safetensors", small);
});
afterAll(() => server.close());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "models-"));
  server.requests.length = 0;
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const net = () => ({ policy: devPolicy(server.port), resolver: loopbackResolver, transport: testTransport });

async function sync(models: ModelEntry[], attempts = 3) {
  const store = await ModelStore.open(dir);
  const s = new ManifestSync({ store, net: net(), log, attempts });
  const ok = await s.reconcile(models);
  return { ok, s, store };
}

describe("manifest sync over HTTPS with a private CA", () => {
  it("downloads every missing file into its folder, verified, and skips it on the next sync", async () => {
    const models: ModelEntry[] = [
      {
        url: server.url("/big.safetensors"),
        folder: "checkpoints",
        filename: "big.safetensors",
        sha256: sha(big),
        size: big.length,
      },
      { url: server.url("/small.safetensors"), folder: "loras", filename: "small.safetensors", sha256: sha(small) },
    ];
    const first = await sync(models);
    expect(first.ok).toBe(true);
    expect(sha(await readFile(join(dir, "checkpoints", "big.safetensors")))).toBe(sha(big));
    expect(await readFile(join(dir, "loras", "small.safetensors"))).toEqual(small);
    expect([...first.s.files.values()].map((f) => f.state)).toEqual(["present", "present"]);
    expect(await readdir(join(dir, "checkpoints"))).toEqual(["big.safetensors"]); // no .part left
    const fetched = server.requests.length;
    const again = await sync(models); // a new process: the index on disk says both are there
    expect(again.ok).toBe(true);
    expect(server.requests.length).toBe(fetched);
  });

  it("resumes an interrupted download with a Range request", async () => {
    server.dropOnce.add("/big.safetensors");
    const model: ModelEntry = {
      url: server.url("/big.safetensors"),
      folder: "checkpoints",
      filename: "resumed.safetensors",
      sha256: sha(big),
      size: big.length,
    };
    const { ok } = await sync([model]);
    expect(ok).toBe(true);
    expect(sha(await readFile(join(dir, "checkpoints", "resumed.safetensors")))).toBe(sha(big));
    const gets = server.requests.filter((r) => r.path === "/big.safetensors");
    expect(gets).toHaveLength(2);
    expect(gets[0]?.range).toBeNull();
    const start = Number(/^bytes=(\d+)-$/.exec(gets[1]?.range ?? "")?.[1]);
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThan(big.length);
  });

  it("starts over when the server ignores the Range request (200 with the whole file)", async () => {
    server.dropOnce.add("/big.safetensors");
    server.noRange.add("/big.safetensors");
    try {
      const model: ModelEntry = {
        url: server.url("/big.safetensors"),
        folder: "checkpoints",
        filename: "whole.safetensors",
        sha256: sha(big),
        size: big.length,
      };
      const { ok } = await sync([model]);
      expect(ok).toBe(true);
      expect(sha(await readFile(join(dir, "checkpoints", "whole.safetensors")))).toBe(sha(big));
      const gets = server.requests.filter((r) => r.path === "/big.safetensors");
      expect(gets).toHaveLength(2);
      expect(gets[1]?.range).toMatch(/^bytes=\d+-$/);
    } finally {
      server.noRange.delete("/big.safetensors");
    }
  });

  it("rejects a wrong SHA-256, removes the partial file and reports the file failed", async () => {
    const model: ModelEntry = {
      url: server.url("/small.safetensors"),
      folder: "checkpoints",
      filename: "wrong.safetensors",
      sha256: "0".repeat(64),
    };
    const { ok, s } = await sync([model]);
    expect(ok).toBe(false);
    expect(await readdir(join(dir, "checkpoints"))).toEqual([]);
    const file = s.files.get("checkpoints/wrong.safetensors");
    expect(file?.state).toBe("failed");
    expect(file?.error).toMatch(/^sha256_mismatch/);
    expect(server.requests).toHaveLength(1); // not retried: the same bytes would come again
    expect(await s.reconcile([model])).toBe(false); // the next round does not fetch it again
    expect(server.requests).toHaveLength(1);
    s.retryAll(); // a new manifest digest
    expect(await s.reconcile([model])).toBe(false);
    expect(server.requests).toHaveLength(2);
  });

  it("replaces a file at the manifest's path that it did not verify (the index does not know it)", async () => {
    await sync([]); // creates the store
    await mkdir(join(dir, "vae"), { recursive: true });
    await writeFile(join(dir, "vae", "v.safetensors"), "someone else's bytes");
    const model: ModelEntry = {
      url: server.url("/small.safetensors"),
      folder: "vae",
      filename: "v.safetensors",
      sha256: sha(small),
    };
    expect((await sync([model])).ok).toBe(true);
    expect(await readFile(join(dir, "vae", "v.safetensors"))).toEqual(small);
  });
});

describe("the guarded fetcher's policy applies to model URLs", () => {
  const dest = () => join(dir, "checkpoints", "x.safetensors");
  async function refusal(url: string, policy = devPolicy(server.port, { allowPrivate: false })) {
    try {
      await downloadModel({ url, dest: dest(), sha256: null, size: null, maxBytes: 1 << 30 }, { ...net(), policy });
    } catch (error) {
      return error as ModelDownloadError;
    }
    throw new Error("download was not refused");
  }

  it("refuses a name resolving to 127.0.0.1 when private URLs are off, before connecting", async () => {
    const error = await refusal(server.url("/small.safetensors"));
    expect(error).toBeInstanceOf(ModelDownloadError);
    expect(error.code).toBe("url_refused");
    expect(error.message).toMatch(/resolves to .*loopback/i);
    expect(server.requests).toHaveLength(0);
  });

  it("refuses a host outside the allowlist", async () => {
    const policy = devPolicy(server.port, { hostAllowlist: ["models.public.test"] });
    const error = await refusal(server.url("/small.safetensors", "other.public.test"), policy);
    expect(error.code).toBe("url_refused");
    expect(server.requests).toHaveLength(0);
  });

  it("refuses a body past the size cap and keeps nothing", async () => {
    try {
      await downloadModel(
        { url: server.url("/big.safetensors"), dest: dest(), sha256: null, size: null, maxBytes: 1000 },
        net(),
      );
      throw new Error("not refused");
    } catch (error) {
      expect((error as ModelDownloadError).code).toBe("too_large");
    }
    await expect(readdir(join(dir, "checkpoints"))).resolves.toEqual([]);
  });
});

describe("per-job models by URL", () => {
  it("downloads a URL model once for two jobs (also at the same time) and rewrites the input", async () => {
    const store = await ModelStore.open(dir);
    const models = new UrlModels({ store, net: net(), log, cacheBytes: 1 << 30, maxBytes: () => 1 << 30 });
    const url = server.url("/small.safetensors");
    const wf = { "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: url } } };
    const [a, b] = await Promise.all([models.prepare(wf), models.prepare(wf)]);
    const c = await models.prepare(wf);
    const name = urlModelFilename(url);
    for (const job of [a, b, c]) expect(job.workflow["4"]?.inputs.ckpt_name).toBe(name);
    expect(wf["4"].inputs.ckpt_name).toBe(url); // the job's own workflow is not changed
    expect(server.requests.filter((r) => r.path === "/small.safetensors")).toHaveLength(1);
    expect(await readFile(join(dir, "checkpoints", name))).toEqual(small);
    for (const job of [a, b, c]) job.release();
  });

  it("a storage failure fails the job without naming host paths", async () => {
    const store = await ModelStore.open(dir);
    const models = new UrlModels({ store, net: net(), log, cacheBytes: 1 << 30, maxBytes: () => 1 << 30 });
    await writeFile(join(dir, "loras"), "a file where the folder should be");
    const wf = { "4": { class_type: "LoraLoader", inputs: { lora_name: server.url("/small.safetensors") } } };
    const error = await models.prepare(wf).then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/\(storage_failed\): the runner could not write the file \(E[A-Z]+\)$/);
    expect(error?.message).not.toContain(dir);
  });

  it("refuses a URL model past the pool's size cap", async () => {
    const store = await ModelStore.open(dir);
    const models = new UrlModels({ store, net: net(), log, cacheBytes: 1 << 30, maxBytes: () => 100 });
    const wf = { "4": { class_type: "LoraLoader", inputs: { lora_name: server.url("/small.safetensors") } } };
    await expect(models.prepare(wf)).rejects.toThrow(
      /workflow\.4\.inputs\.lora_name could not be downloaded \(too_large\)/,
    );
  });
});
