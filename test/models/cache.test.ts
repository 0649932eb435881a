import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ModelStore, pickEvictions, type StoreEntry } from "../../runner/src/models/store.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "model-cache-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A clock the test moves by hand. */
function clock(start = 1_000) {
  let t = start;
  return { now: () => t, tick: (ms = 1) => (t += ms) };
}

async function put(store: ModelStore, name: string, bytes: number, source: "url" | "manifest" = "url") {
  await mkdir(join(dir, "loras"), { recursive: true });
  await writeFile(join(dir, "loras", name), Buffer.alloc(bytes));
  return store.record({
    folder: "loras",
    filename: name,
    source,
    url: `https://h/${name}`,
    sha256: "a".repeat(64),
    bytes,
  });
}

describe("model cache (MODEL_CACHE_GB)", () => {
  it("evicts least recently used first, never manifest files or files in use", async () => {
    const c = clock();
    const store = await ModelStore.open(dir, c.now);
    await put(store, "a.safetensors", 100);
    c.tick();
    await put(store, "b.safetensors", 100);
    c.tick();
    await put(store, "m.safetensors", 500, "manifest");
    c.tick();
    await put(store, "c.safetensors", 100);
    c.tick();
    store.acquire("loras", "a.safetensors")(); // a used last: now the most recent
    c.tick();
    const release = store.acquire("loras", "c.safetensors"); // in use
    const gone = await store.evict(150);
    expect(gone.map((e) => e.filename)).toEqual(["b.safetensors", "a.safetensors"]);
    expect((await readdir(join(dir, "loras"))).sort()).toEqual(["c.safetensors", "m.safetensors"]);
    release();
    expect((await store.evict(0)).map((e) => e.filename)).toEqual(["c.safetensors"]);
    expect(await readdir(join(dir, "loras"))).toEqual(["m.safetensors"]);
  });

  it("keeps its index across restarts, last use included", async () => {
    const c = clock();
    const first = await ModelStore.open(dir, c.now);
    await put(first, "old.safetensors", 10);
    c.tick();
    await put(first, "new.safetensors", 10);
    c.tick();
    first.acquire("loras", "old.safetensors")();
    await first.save();
    const second = await ModelStore.open(dir, c.now);
    expect(await second.verified("loras", "new.safetensors")).toBeDefined();
    expect((await second.evict(10)).map((e) => e.filename)).toEqual(["new.safetensors"]);
  });

  it("pickEvictions is pure and stops as soon as the cache fits", () => {
    const entry = (filename: string, bytes: number, last: number): StoreEntry => ({
      folder: "loras",
      filename,
      source: "url",
      url: "",
      sha256: "",
      bytes,
      mtime_ms: 0,
      last_used_ms: last,
    });
    const entries = [entry("x", 10, 3), entry("y", 10, 1), entry("z", 10, 2)];
    expect(pickEvictions(entries, 20, new Set()).map((e) => e.filename)).toEqual(["y"]);
    expect(pickEvictions(entries, 30, new Set())).toEqual([]);
  });
});
