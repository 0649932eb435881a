/**
 * One "ComfyUI process": PromptQueue (a heapq ordered by (number, prompt_id), currently running, history capped at
 * 10000) and main.py's prompt_worker loop (one prompt at a time, task_done -> status broadcast,
 * `executing {node: null}` last, and the GC stall: after a prompt, or when idle, once
 * gcIntervalMs have passed since the previous collection). die() throws all of it away.
 */

import { Dead, type Fault, type HistoryResult, PromptExecutor } from "./executor.ts";
import type { FileStore } from "./files.ts";
import type { Prompt } from "./graph.ts";
import type { NodeClass, SavedFile } from "./nodes.ts";
import { Hub, Stall } from "./ws.ts";

/** (number, prompt_id, prompt, extra_data, outputs_to_execute, sensitive) */
export type QueueItem = [number, string, Prompt, Record<string, unknown>, string[], Record<string, unknown>];

export interface HistoryEntry {
  prompt: [number, string, Prompt, Record<string, unknown>, string[]];
  outputs: Record<string, unknown>;
  status: { status_str: "success" | "error"; completed: boolean; messages: Array<[string, Record<string, unknown>]> };
  meta: Record<string, unknown>;
}

const MAXIMUM_HISTORY_SIZE = 10000;

function less(a: QueueItem, b: QueueItem): boolean {
  if (a[0] !== b[0]) return a[0] < b[0];
  return a[1] < b[1];
}

function heapPush(heap: QueueItem[], item: QueueItem): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!less(heap[i] as QueueItem, heap[parent] as QueueItem)) break;
    [heap[i], heap[parent]] = [heap[parent] as QueueItem, heap[i] as QueueItem];
    i = parent;
  }
}

function siftUp(heap: QueueItem[], pos: number): void {
  // heapq._siftup: move the smaller child up until a leaf, then bubble the item down->up
  const end = heap.length;
  const start = pos;
  const item = heap[pos] as QueueItem;
  let child = 2 * pos + 1;
  let p = pos;
  while (child < end) {
    const right = child + 1;
    if (right < end && !less(heap[child] as QueueItem, heap[right] as QueueItem)) child = right;
    heap[p] = heap[child] as QueueItem;
    p = child;
    child = 2 * p + 1;
  }
  heap[p] = item;
  // _siftdown(heap, start, p)
  while (p > start) {
    const parent = (p - 1) >> 1;
    if (!less(item, heap[parent] as QueueItem)) break;
    heap[p] = heap[parent] as QueueItem;
    p = parent;
  }
  heap[p] = item;
}

function heapPop(heap: QueueItem[]): QueueItem {
  const last = heap.pop() as QueueItem;
  if (heap.length === 0) return last;
  const top = heap[0] as QueueItem;
  heap[0] = last;
  siftUp(heap, 0);
  return top;
}

function heapify(heap: QueueItem[]): void {
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftUp(heap, i);
}

export interface RuntimeConfig {
  registry: Map<string, NodeClass>;
  files: FileStore;
  nodeDelayMs(classType: string): number;
  takeFault(classType: string): Fault | undefined;
  gcPauseMs: number;
  gcIntervalMs: number;
  saved(file: SavedFile): void;
  random(): number;
}

export class Runtime {
  readonly stall = new Stall();
  readonly hub: Hub;
  readonly executor: PromptExecutor;
  readonly interrupt = { flag: false };
  /** PromptServer.number: incremented by every POST /prompt without "number" */
  number = 0;
  private readonly abort = new AbortController();
  private heap: QueueItem[] = [];
  private readonly running = new Map<number, QueueItem>();
  private taskCounter = 0;
  readonly history = new Map<string, HistoryEntry>();
  private wake: (() => void) | undefined;
  private worker: Promise<void> | undefined;

  private readonly config: RuntimeConfig;

  constructor(config: RuntimeConfig) {
    this.config = config;
    this.hub = new Hub(this.stall, () => ({ exec_info: { queue_remaining: this.tasksRemaining() } }));
    this.executor = new PromptExecutor({
      registry: config.registry,
      files: config.files,
      hub: this.hub,
      interrupt: this.interrupt,
      nodeDelayMs: (c) => config.nodeDelayMs(c),
      takeFault: (c) => config.takeFault(c),
      sleep: (ms) => this.sleep(ms),
      saved: (f) => config.saved(f),
      random: () => config.random(),
    });
  }

  get dead(): boolean {
    return this.abort.signal.aborted;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  start(): void {
    this.worker ??= this.workerLoop().catch((error: unknown) => {
      if (!(error instanceof Dead)) throw error;
    });
  }

  /** Abrupt end of the process: queue, history, caches and the running prompt are abandoned. */
  kill(): void {
    this.abort.abort();
    this.wake?.();
  }

  sleep(ms: number): Promise<void> {
    const signal = this.abort.signal;
    if (signal.aborted) return Promise.reject(new Dead());
    return new Promise<void>((resolve, reject) => {
      let cancel = (): void => {};
      const onAbort = (): void => {
        cancel();
        reject(new Dead());
      };
      const done = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      if (ms > 0) {
        const timer = setTimeout(done, ms);
        cancel = () => clearTimeout(timer);
      } else {
        const immediate = setImmediate(done);
        cancel = () => clearImmediate(immediate);
      }
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  tasksRemaining(): number {
    return this.heap.length + this.running.size;
  }

  put(item: QueueItem): void {
    heapPush(this.heap, item);
    this.hub.queueUpdated();
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async get(timeoutMs: number): Promise<[QueueItem, number] | null> {
    if (this.heap.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(
          () => {
            this.wake = undefined;
            resolve();
          },
          Math.min(timeoutMs, 2_147_483_647),
        );
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.dead) throw new Dead();
      if (this.heap.length === 0) return null;
    }
    // the worker thread picks the item up asynchronously (after the HTTP response that queued it)
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.dead) throw new Dead();
    if (this.heap.length === 0) return null;
    const item = heapPop(this.heap);
    const id = this.taskCounter++;
    this.running.set(id, item);
    this.hub.queueUpdated();
    return [item, id];
  }

  private taskDone(id: number, result: HistoryResult, status: HistoryEntry["status"]): void {
    const item = this.running.get(id) as QueueItem;
    this.running.delete(id);
    if (this.history.size > MAXIMUM_HISTORY_SIZE) {
      const oldest = this.history.keys().next().value;
      if (oldest !== undefined) this.history.delete(oldest);
    }
    this.history.set(item[1], {
      prompt: [item[0], item[1], item[2], item[3], item[4]],
      outputs: result.outputs,
      status,
      meta: result.meta,
    });
    this.hub.queueUpdated();
  }

  private async workerLoop(): Promise<void> {
    const gcEnabled = this.config.gcPauseMs > 0;
    let needGc = false;
    let lastGc = Number.NEGATIVE_INFINITY;
    while (!this.dead) {
      let timeout = 1_000_000;
      if (needGc) timeout = Math.max(this.config.gcIntervalMs - (performance.now() - lastGc), 0);
      const got = await this.get(timeout);
      if (got !== null) {
        const [item, id] = got;
        const extraData = { ...item[3], ...item[5] };
        await this.executor.execute(item[2], item[1], extraData, item[4]);
        if (this.dead) throw new Dead();
        needGc = gcEnabled;
        const ok = this.executor.success;
        this.taskDone(id, this.executor.historyResult, {
          status_str: ok ? "success" : "error",
          completed: ok,
          messages: this.executor.statusMessages,
        });
        if (this.hub.clientId !== null)
          this.hub.send("executing", { node: null, prompt_id: item[1] }, this.hub.clientId);
      }
      if (needGc && performance.now() - lastGc >= this.config.gcIntervalMs) {
        await this.stall.run(this.config.gcPauseMs, this.abort.signal);
        if (this.dead) throw new Dead();
        lastGc = performance.now();
        needGc = false;
      }
    }
  }

  // ---- PromptQueue views used by the HTTP routes ----

  currentQueue(): { running: unknown[][]; pending: unknown[][] } {
    const strip = (i: QueueItem): unknown[] => i.slice(0, 5);
    return { running: [...this.running.values()].map(strip), pending: this.heap.map(strip) };
  }

  runningPromptIds(): string[] {
    return [...this.running.values()].map((i) => i[1]);
  }

  wipeQueue(): void {
    this.heap = [];
    this.hub.queueUpdated();
  }

  deleteQueueItem(promptId: unknown): boolean {
    const index = this.heap.findIndex((i) => i[1] === promptId);
    if (index < 0) return false;
    if (this.heap.length === 1) this.wipeQueue();
    else {
      this.heap.splice(index, 1);
      heapify(this.heap);
    }
    this.hub.queueUpdated();
    return true;
  }
}
