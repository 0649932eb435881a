/**
 * The runner's record of the model files it wrote (an index on disk at `<models dir>/.comfy-edge/index.json`,
 * written atomically, so it survives restarts): which file came from the manifest or from a job's URL, its
 * size, SHA-256 and when a job last used it. Files from URLs form a cache bounded by MODEL_CACHE_GB: least
 * recently used go first; manifest files and files in use never.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

const Entry = z.object({
  folder: z.string(),
  filename: z.string(),
  source: z.enum(["manifest", "url"]),
  url: z.string(),
  sha256: z.string(),
  bytes: z.number(),
  mtime_ms: z.number(),
  last_used_ms: z.number(),
});
export type StoreEntry = z.infer<typeof Entry>;
const IndexFile = z.object({ version: z.literal(1), entries: z.array(Entry) });

export const relPath = (folder: string, filename: string): string => `${folder}/${filename}`;

/** Which cached (url) entries to delete, least recently used first, to fit `limitBytes`. Pure. */
export function pickEvictions(
  entries: readonly StoreEntry[],
  limitBytes: number,
  inUse: ReadonlySet<string>,
): StoreEntry[] {
  const cached = entries.filter((e) => e.source === "url");
  let total = cached.reduce((sum, e) => sum + e.bytes, 0);
  const out: StoreEntry[] = [];
  for (const entry of [...cached].sort((a, b) => a.last_used_ms - b.last_used_ms)) {
    if (total <= limitBytes) break;
    if (inUse.has(relPath(entry.folder, entry.filename))) continue;
    out.push(entry);
    total -= entry.bytes;
  }
  return out;
}

export class ModelStore {
  readonly dir: string;
  private readonly indexPath: string;
  private entries = new Map<string, StoreEntry>();
  private readonly inUse = new Map<string, number>();
  private readonly now: () => number;
  /** Called after a file was added or deleted (the runner rebuilds its capability report). */
  onChange: () => void = () => undefined;

  private constructor(dir: string, now: () => number) {
    this.dir = dir;
    this.indexPath = join(dir, ".comfy-edge", "index.json");
    this.now = now;
  }

  /** Opens the store, reading the index if there is one (an unreadable index is started afresh). */
  static async open(dir: string, now: () => number = Date.now): Promise<ModelStore> {
    const store = new ModelStore(dir, now);
    try {
      const parsed = IndexFile.safeParse(JSON.parse(await readFile(store.indexPath, "utf8")));
      if (parsed.success) for (const e of parsed.data.entries) store.entries.set(relPath(e.folder, e.filename), e);
    } catch {
      // No index yet.
    }
    return store;
  }

  path(folder: string, filename: string): string {
    return join(this.dir, folder, filename);
  }

  list(): StoreEntry[] {
    return [...this.entries.values()];
  }

  get(folder: string, filename: string): StoreEntry | undefined {
    return this.entries.get(relPath(folder, filename));
  }

  /** The entry when its file is still on disk unchanged (same size and mtime as recorded), else undefined. */
  async verified(folder: string, filename: string): Promise<StoreEntry | undefined> {
    const entry = this.get(folder, filename);
    if (entry === undefined) return undefined;
    try {
      const info = await stat(this.path(folder, filename));
      if (info.size === entry.bytes && Math.trunc(info.mtimeMs) === entry.mtime_ms) return entry;
    } catch {
      // Gone.
    }
    this.entries.delete(relPath(folder, filename));
    return undefined;
  }

  async record(entry: Omit<StoreEntry, "mtime_ms" | "last_used_ms">): Promise<StoreEntry> {
    const info = await stat(this.path(entry.folder, entry.filename));
    const full: StoreEntry = { ...entry, mtime_ms: Math.trunc(info.mtimeMs), last_used_ms: this.now() };
    this.entries.set(relPath(entry.folder, entry.filename), full);
    await this.save();
    this.onChange();
    return full;
  }

  /** Marks a file used by a running job (never evicted until released) and refreshes its last use. */
  acquire(folder: string, filename: string): () => void {
    const key = relPath(folder, filename);
    this.inUse.set(key, (this.inUse.get(key) ?? 0) + 1);
    const entry = this.entries.get(key);
    if (entry !== undefined) entry.last_used_ms = this.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inUse.get(key) ?? 1) - 1;
      if (left <= 0) this.inUse.delete(key);
      else this.inUse.set(key, left);
    };
  }

  /** Deletes least recently used cached files until the cache fits `limitBytes`; returns what went. */
  async evict(limitBytes: number): Promise<StoreEntry[]> {
    const gone = pickEvictions(this.list(), limitBytes, new Set(this.inUse.keys()));
    for (const entry of gone) {
      await rm(this.path(entry.folder, entry.filename), { force: true });
      this.entries.delete(relPath(entry.folder, entry.filename));
    }
    if (gone.length > 0) {
      await this.save();
      this.onChange();
    }
    return gone;
  }

  /** A manifest file becomes a cached one when the manifest drops it (it may then be evicted). */
  async demote(keep: ReadonlySet<string>): Promise<void> {
    let changed = false;
    for (const [key, entry] of this.entries) {
      if (entry.source === "manifest" && !keep.has(key)) {
        entry.source = "url";
        changed = true;
      }
    }
    if (changed) await this.save();
  }

  async save(): Promise<void> {
    await mkdir(join(this.dir, ".comfy-edge"), { recursive: true });
    const tmp = `${this.indexPath}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ version: 1, entries: this.list() }));
    await rename(tmp, this.indexPath);
  }
}
