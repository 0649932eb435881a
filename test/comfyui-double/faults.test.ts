/**
 * The fault knobs: dropSockets, setRefuseConnections, die/restart, setNodeDelay, failNode, the GC pause, close.
 */
import sharp from "sharp";
import { describe, expect, it, vi } from "vitest";
import { http, useDouble, WsClient } from "./helpers.ts";
import type { ComfyDouble } from "./index.ts";

const { start, clients } = useDouble();

async function open(d: ComfyDouble, clientId?: string): Promise<WsClient> {
  const c = await WsClient.open(d.url, clientId);
  clients.push(c);
  await c.waitFor((m) => m.kind === "text" && m.type === "status");
  return c;
}

/** EmptyImage -> ImageInvert -> SaveImage; `color` makes prompts distinct (no cache hits). */
function chain(color: number, prefix = "fault") {
  return {
    "1": { class_type: "EmptyImage", inputs: { width: 16, height: 8, batch_size: 1, color } },
    "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
    "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: prefix } },
  };
}

async function submit(d: ComfyDouble, prompt: unknown, clientId?: string): Promise<string> {
  const res = await http(
    d.url,
    "POST",
    "/prompt",
    clientId === undefined ? { prompt } : { prompt, client_id: clientId },
  );
  expect(res.status).toBe(200);
  return (res.json as { prompt_id: string }).prompt_id;
}

const isExecuting = (id: string, node: string | null) => (m: WsClient["messages"][number]) =>
  m.kind === "text" && m.type === "executing" && m.data.node === node && m.data.prompt_id === id;

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/prompt`);
    return false;
  } catch (error) {
    return String((error as { cause?: { code?: string } }).cause?.code) === "ECONNREFUSED";
  }
}

describe("dropSockets", () => {
  it("kills every websocket; HTTP still works; a reconnect with the same clientId gets `executing` for the current node", async () => {
    const d = await start();
    d.setNodeDelay("ImageInvert", 1000); // the reconnect happens while node 2 runs
    const first = await open(d, "runner-1");
    const observer = await open(d, "observer");
    const id = await submit(d, chain(1), "runner-1");
    await first.waitFor(isExecuting(id, "2"));
    d.dropSockets();
    await Promise.all([first.closed, observer.closed]);
    const queue = (await http(d.url, "GET", "/queue")).json as { queue_running: unknown[][] };
    expect(queue.queue_running.map((row) => row[1])).toEqual([id]);
    const again = await open(d, "runner-1");
    // ComfyUI re-sends the node being executed, with only the "node" field
    const { message } = await again.waitFor((m) => m.kind === "text" && m.type === "executing");
    expect(message.kind === "text" && message.data).toEqual({ node: "2" });
    await again.waitForPromptEnd(id);
    expect(again.compact()).toEqual([
      "status(queue_remaining=1)",
      "executing(node=2)",
      "progress_state(1:finished,2:finished)",
      "progress_state(1:finished,2:finished,3:running)",
      "executing(node=3)",
      "executed(node=3)",
      "progress_state(1:finished,2:finished,3:finished)",
      "execution_success",
      "status(queue_remaining=0)",
      "executing(node=None)",
    ]);
    expect(d.history()[id]?.status.status_str).toBe("success");
    // after the prompt, a reconnect gets only the status
    const late = await open(d, "runner-1");
    expect(late.compact()).toEqual(["status(queue_remaining=0)"]);
  });
});

describe("setRefuseConnections", () => {
  it("refuses TCP connections and drops existing ones while on; the prompt keeps running; same port when off", async () => {
    const d = await start();
    const port = d.port;
    d.setNodeDelay("ImageInvert", 100);
    const ws = await open(d, "r");
    const id = await submit(d, chain(2), "r");
    await ws.waitFor(isExecuting(id, "2"));
    await d.setRefuseConnections(true);
    await ws.closed;
    expect(await refused(d.url)).toBe(true);
    await expect(WsClient.open(d.url, "r")).rejects.toThrow();
    await d.setRefuseConnections(false);
    expect(d.port).toBe(port);
    const entry = await vi.waitFor(
      async () => {
        const res = await http(d.url, "GET", `/history/${id}`);
        const found = (res.json as Record<string, { status: { status_str: string } }>)[id];
        if (found === undefined) throw new Error(`prompt ${id} is not in /history yet`);
        return found;
      },
      { timeout: 5000, interval: 10 },
    );
    expect(entry.status.status_str).toBe("success");
    const back = await open(d, "r");
    expect(back.compact()).toEqual(["status(queue_remaining=0)"]);
  });
});

describe("die / restart", () => {
  it("die mid-job loses queue and history; restart: same port, fresh counter/caches, input+output kept, temp wiped", async () => {
    const d = await start();
    const port = d.port;
    // an input upload, an output file and a temp file before the crash
    const form = new FormData();
    const gif = await sharp({ create: { width: 16, height: 8, channels: 3, background: "#808080" } })
      .gif()
      .toBuffer();
    form.append("image", new Blob([gif]), "in.gif");
    expect((await http(d.url, "POST", "/upload/image", form)).status).toBe(200);
    const ws = await open(d, "x");
    const saved = await submit(
      d,
      { ...chain(3, "kept"), "4": { class_type: "PreviewImage", inputs: { images: ["1", 0] } } },
      "x",
    );
    await ws.waitForPromptEnd(saved);
    const temp = (d.outputs().find((o) => o.type === "temp") as { filename: string }).filename;
    expect((await http(d.url, "GET", `/view?filename=${temp}&type=temp`)).status).toBe(200);

    d.setNodeDelay("ImageInvert", 2000);
    const running = await submit(d, chain(4), "x");
    const pending = await submit(d, chain(5), "x");
    await ws.waitFor(isExecuting(running, "2"));
    await d.die();
    await ws.closed;
    expect(await refused(d.url)).toBe(true);
    d.setNodeDelay("ImageInvert", 1);
    await d.restart();
    expect(d.port).toBe(port);
    expect((await http(d.url, "GET", "/queue")).json).toEqual({ queue_running: [], queue_pending: [] });
    expect(d.history()).toEqual({});
    // counter restarts at 0; nothing cached; input and output files survived, temp did not
    const ws2 = await open(d, "x");
    const res = await http(d.url, "POST", "/prompt", {
      prompt: {
        "1": { class_type: "LoadImage", inputs: { image: "in.gif" } },
        "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "kept" } },
      },
      client_id: "x",
    });
    expect((res.json as { number: number }).number).toBe(0);
    await ws2.waitForPromptEnd((res.json as { prompt_id: string }).prompt_id);
    expect(ws2.compact()).toContain("execution_cached(nodes=[])");
    const out = d
      .outputs()
      .filter((o) => o.filename.startsWith("kept_"))
      .map((o) => o.filename);
    expect(out).toEqual(["kept_00001_.png", "kept_00002_.png"]); // the counter saw the file from before the crash
    expect((await http(d.url, "GET", "/view?filename=kept_00001_.png")).status).toBe(200);
    expect((await http(d.url, "GET", `/view?filename=${temp}&type=temp`)).status).toBe(404);
    // the prompts log keeps what the double accepted before the crash
    expect(d.prompts().map((p) => p.prompt_id)).toEqual(expect.arrayContaining([saved, running, pending]));
  });

  it("die/close are idempotent; restart brings a dead double back; close makes restart fail", async () => {
    const d = await start();
    await d.die();
    await d.die();
    await d.restart();
    expect((await http(d.url, "GET", "/system_stats")).status).toBe(200);
    await d.restart(); // restart of a live double = crash + start
    expect((await http(d.url, "GET", "/queue")).status).toBe(200);
    await d.close();
    await d.close();
    expect(await refused(d.url)).toBe(true);
    await expect(d.restart()).rejects.toThrow();
  });
});

describe("setNodeDelay / failNode", () => {
  it("a slow node delays its successor by the configured time", async () => {
    const d = await start();
    d.setNodeDelay("ImageInvert", 250);
    const ws = await open(d, "slow");
    const id = await submit(d, chain(6), "slow");
    const started = await ws.waitFor(isExecuting(id, "2"));
    const t0 = performance.now();
    await ws.waitFor(isExecuting(id, "3"), started.index);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200);
  });

  it("failNode raises execution_error on that class until cleared (or for `times` runs)", async () => {
    const d = await start();
    d.failNode("ImageInvert", { message: "CUDA out of memory", type: "torch.OutOfMemoryError" });
    const ws = await open(d, "f");
    const first = await submit(d, chain(7), "f");
    await ws.waitForPromptEnd(first);
    const err = ws.texts().find((m) => m.type === "execution_error");
    expect(err?.data).toMatchObject({
      prompt_id: first,
      node_id: "2",
      node_type: "ImageInvert",
      executed: ["1"],
      exception_message: "CUDA out of memory\n",
      exception_type: "torch.OutOfMemoryError",
      current_outputs: ["1", "2", "3"],
    });
    expect((err?.data.current_inputs as { image: string[] } | undefined)?.image[0]).toMatch(/^tensor\(\[\[\[\[/);
    expect(ws.compact().slice(-3)).toEqual(["execution_error", "status(queue_remaining=0)", "executing(node=None)"]);
    expect(d.history()[first]).toMatchObject({
      outputs: {},
      meta: {},
      status: { status_str: "error", completed: false },
    });

    const second = await submit(d, chain(7), "f");
    await ws.waitForPromptEnd(second);
    expect(d.history()[second]?.status.status_str).toBe("error");

    d.clearFaults();
    const third = await submit(d, chain(7), "f");
    const from = ws.messages.length;
    await ws.waitForPromptEnd(third);
    expect(ws.compact(from)).toContain("execution_cached(nodes=['1'])");
    expect(d.history()[third]?.status.status_str).toBe("success");

    d.failNode("SaveImage", { message: "disk full", times: 1 });
    const fourth = await submit(d, chain(8), "f");
    await ws.waitForPromptEnd(fourth);
    const fifth = await submit(d, chain(8), "f");
    await ws.waitForPromptEnd(fifth);
    expect([d.history()[fourth]?.status.status_str, d.history()[fifth]?.status.status_str]).toEqual([
      "error",
      "success",
    ]);
    const err4 = ws.texts().find((m) => m.type === "execution_error" && m.data.prompt_id === fourth);
    expect(err4?.data).toMatchObject({ exception_type: "Exception", exception_message: "disk full\n" });
  });
});

describe("GC pause", () => {
  it("after a prompt (>= gcIntervalMs since the last GC) queued messages and new requests wait gcPauseMs", async () => {
    const d = await start({ gcPauseMs: 600, gcIntervalMs: 60_000 });
    const ws = await open(d, "gc");
    const id = await submit(d, chain(9), "gc");
    const node3 = await ws.waitFor(isExecuting(id, "3"));
    const t0 = performance.now();
    await ws.waitFor((m) => m.kind === "text" && m.type === "execution_success", node3.index);
    // SaveImage takes ~1 ms; the collection right after the prompt holds execution_success & co for 600 ms
    expect(performance.now() - t0).toBeGreaterThanOrEqual(450);
    await ws.waitForPromptEnd(id);
    expect(d.history()[id]?.status.status_str).toBe("success");
    expect(d.gcPauses()).toBe(1);

    // the next prompt comes within the interval: no pause
    const next = await submit(d, chain(10), "gc");
    await ws.waitForPromptEnd(next);
    expect(d.history()[next]?.status.status_str).toBe("success");
    expect(d.gcPauses()).toBe(1);
  });
});
