/**
 * Behaviour that follows from ComfyUI's code but is not a recorded scenario: routing by client_id, the
 * same-clientId socket quirk, cache keys, SaveImage counters and subfolders, /view variants, the
 * /api prefix, opaque node classes, extra_pnginfo.
 */

import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { txt2imgWorkflow } from "../harness/workflows.ts";
import { http, pngSize, useDouble, WsClient } from "./helpers.ts";
import { type ComfyDouble, startComfyDouble } from "./index.ts";

const { start, clients } = useDouble();

async function open(d: ComfyDouble, clientId?: string, first?: unknown): Promise<WsClient> {
  const c = await WsClient.open(d.url, clientId, first);
  clients.push(c);
  await c.waitFor((m) => m.kind === "text" && m.type === (first === undefined ? "status" : "feature_flags"));
  return c;
}

function chain(color: number, prefix = "b", width = 16) {
  return {
    "1": { class_type: "EmptyImage", inputs: { width, height: 8, batch_size: 1, color } },
    "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
    "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: prefix } },
  };
}

async function run(d: ComfyDouble, ws: WsClient, prompt: unknown, extra: Record<string, unknown> = {}) {
  const res = await http(d.url, "POST", "/prompt", { prompt, client_id: clientOf(ws), ...extra });
  expect(res.status).toBe(200);
  const id = (res.json as { prompt_id: string }).prompt_id;
  const from = ws.messages.length;
  await ws.waitForPromptEnd(id);
  return { id, from };
}

const ids = new WeakMap<WsClient, string>();
function clientOf(ws: WsClient): string {
  return ids.get(ws) as string;
}
async function openNamed(d: ComfyDouble, clientId: string): Promise<WsClient> {
  const ws = await open(d, clientId);
  ids.set(ws, clientId);
  return ws;
}

describe("websocket routing", () => {
  it("execution frames go only to the prompt's client; other sockets see status broadcasts", async () => {
    const d = await start();
    const a = await openNamed(d, "a");
    const b = await openNamed(d, "b");
    await run(d, a, chain(1));
    await b.waitFor(
      (m) =>
        m.kind === "text" &&
        m.type === "status" &&
        (m.data.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining === 0,
      1,
    );
    expect(b.compact()).toEqual([
      "status(queue_remaining=0)",
      "status(queue_remaining=1)",
      "status(queue_remaining=1)",
      "status(queue_remaining=0)",
    ]);
    expect(a.compact()).toContain("execution_success");
  });

  it("quirk kept from ComfyUI: closing an older socket with the same clientId unregisters the newer one", async () => {
    const d = await start();
    const old = await openNamed(d, "dup");
    const fresh = await openNamed(d, "dup");
    await old.close();
    // the newer socket is still open but no longer registered: it receives nothing for its prompts
    const res = await http(d.url, "POST", "/prompt", { prompt: chain(2), client_id: "dup" });
    const id = (res.json as { prompt_id: string }).prompt_id;
    const witness = await openNamed(d, "witness");
    await witness.waitFor(
      (m) =>
        m.kind === "text" &&
        m.type === "status" &&
        (m.data.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining === 0,
    );
    expect(d.history()[id]?.status.status_str).toBe("success");
    expect(fresh.readyState).toBe(WebSocket.OPEN);
    expect(fresh.compact()).toEqual(["status(queue_remaining=0)"]);
  });

  it("a prompt without client_id: no execution frames except progress_state and execution_interrupted (broadcast)", async () => {
    const d = await start();
    d.setNodeDelay("ImageInvert", 200);
    const watcher = await openNamed(d, "watcher");
    const res = await http(d.url, "POST", "/prompt", { prompt: chain(11) });
    const id = (res.json as { prompt_id: string }).prompt_id;
    await watcher.waitFor(
      (m) =>
        m.kind === "text" &&
        m.type === "progress_state" &&
        (m.data.nodes as Record<string, { state: string }>)["2"]?.state === "running",
    );
    expect((await http(d.url, "POST", "/interrupt", { prompt_id: id })).status).toBe(200);
    await watcher.waitFor((m) => m.kind === "text" && m.type === "execution_interrupted");
    await watcher.waitFor(
      (m) =>
        m.kind === "text" &&
        m.type === "status" &&
        (m.data.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining === 0,
      3,
    );
    expect(watcher.compact()).toEqual([
      "status(queue_remaining=0)",
      "status(queue_remaining=1)",
      "status(queue_remaining=1)",
      "progress_state(1:running)",
      "progress_state(1:finished)",
      "progress_state(1:finished,2:running)",
      "progress_state(1:finished,2:finished)",
      "progress_state(1:finished,2:finished,3:running)",
      "execution_interrupted",
      "status(queue_remaining=0)",
    ]);
    expect(d.history()[id]?.status.messages.map(([event]) => event)).toEqual([
      "execution_start",
      "execution_cached",
      "execution_interrupted",
    ]);
  });

  it("feature_flags only count as the first frame; invalid JSON is ignored", async () => {
    const d = await start();
    const ws = await openNamed(d, "ff");
    ws.send({ type: "hello" });
    ws.send({ type: "feature_flags", data: { supports_preview_metadata: true } });
    const probe = await openNamed(d, "probe");
    await probe.close();
    const res = await http(d.url, "POST", "/prompt", {
      prompt: {
        "1": { class_type: "EmptyImage", inputs: { width: 4, height: 4, batch_size: 1, color: 0 } },
        "2": { class_type: "SaveImageWebsocket", inputs: { images: ["1", 0] } },
      },
      client_id: "ff",
    });
    await ws.waitForPromptEnd((res.json as { prompt_id: string }).prompt_id);
    expect(ws.compact()).not.toContain("feature_flags");
    expect(ws.compact()).toContain("<binary event_type=1>"); // no metadata previews: the flags were not negotiated
  });
});

describe("execution cache", () => {
  it("keys on class + inputs + upstream; cached output nodes re-send executed", async () => {
    const d = await start();
    const ws = await openNamed(d, "c");
    await run(d, ws, chain(3));
    const again = await run(d, ws, chain(3));
    expect(ws.compact(again.from)).toEqual([
      "status(queue_remaining=1)",
      "status(queue_remaining=1)",
      "execution_start",
      "execution_cached(nodes=['1', '2', '3'])",
      "executed(node=3)",
      "progress_state(3:finished)",
      "execution_success",
      "status(queue_remaining=0)",
      "executing(node=None)",
    ]);
    // a different upstream value invalidates every downstream node
    const changed = await run(d, ws, chain(3, "b", 17));
    expect(ws.compact(changed.from)).toContain("execution_cached(nodes=[])");
    // ComfyUI's classic cache only keeps entries of the latest prompt: the first graph is gone now
    const back = await run(d, ws, chain(3));
    expect(ws.compact(back.from)).toContain("execution_cached(nodes=[])");
    const warm = await run(d, ws, chain(3));
    expect(ws.compact(warm.from)).toContain("execution_cached(nodes=['1', '2', '3'])");
    expect(d.outputs().map((o) => o.filename)).toEqual(["b_00001_.png", "b_00002_.png", "b_00003_.png"]);
  });
});

describe("SaveImage / PreviewImage files", () => {
  it("counters per prefix, subfolders from the prefix, %width%, extra_pnginfo chunks, batch files", async () => {
    const d = await start();
    const ws = await openNamed(d, "s");
    await run(d, ws, chain(4, "jobs/job-1/out"));
    await run(d, ws, chain(5, "jobs/job-1/out"));
    await run(d, ws, chain(6, "jobs/job-2/out"));
    await run(d, ws, chain(7, "size_%width%x%height%"));
    const workflow = { nodes: [{ id: 1, title: "é" }] };
    await run(
      d,
      ws,
      {
        "1": { class_type: "EmptyImage", inputs: { width: 4, height: 4, batch_size: 2, color: 8 } },
        "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "batch" } },
      },
      { extra_data: { extra_pnginfo: { workflow } } },
    );
    expect(d.outputs().map((o) => `${o.subfolder}|${o.filename}`)).toEqual([
      "jobs/job-1|out_00001_.png",
      "jobs/job-1|out_00002_.png",
      "jobs/job-2|out_00001_.png",
      "|size_16x8_00001_.png",
      "|batch_00001_.png",
      "|batch_00002_.png",
    ]);
    const view = await http(d.url, "GET", "/view?filename=out_00002_.png&subfolder=jobs/job-1&type=output");
    expect(view.status).toBe(200);
    expect((await http(d.url, "GET", "/view?filename=out_00002_.png&type=output")).status).toBe(404);
    expect((await http(d.url, "GET", "/view?filename=x.png&subfolder=../secret")).status).toBe(403);
    const batch = await http(d.url, "GET", "/view?filename=batch_00002_.png");
    const text = (await sharp(batch.bytes).metadata()).comments?.find((c) => c.keyword === "workflow")?.text;
    expect(JSON.parse(text ?? "")).toEqual(workflow);
    expect(text).toContain("\\u00e9");
    const history = Object.values(d.history()).at(-1);
    expect(history?.outputs).toEqual({
      "2": {
        images: [
          { filename: "batch_00001_.png", subfolder: "", type: "output" },
          { filename: "batch_00002_.png", subfolder: "", type: "output" },
        ],
      },
    });
  });
});

it("files are real files in folders on disk: a deleted output is gone for /view, and the counter restarts", async () => {
  const d = await start();
  const ws = await openNamed(d, "disk");
  await run(d, ws, chain(9, "disk/out"));
  const onDisk = join(d.folders.output, "disk", "out_00001_.png");
  expect(existsSync(onDisk)).toBe(true);
  expect(readFileSync(onDisk).equals(Buffer.from(d.outputs()[0]!.bytes))).toBe(true);
  const upload = new FormData();
  upload.set("image", new Blob([new Uint8Array(readFileSync(onDisk))]), "in.png");
  expect((await fetch(`${d.url}/upload/image`, { method: "POST", body: upload })).status).toBe(200);
  expect(existsSync(join(d.folders.input, "in.png"))).toBe(true);
  rmSync(onDisk);
  expect((await http(d.url, "GET", "/view?filename=out_00001_.png&subfolder=disk&type=output")).status).toBe(404);
  await run(d, ws, chain(10, "disk/out"));
  expect(d.outputs().at(-1)?.filename).toBe("out_00001_.png");
  const base = d.folders.base;
  await d.close();
  expect(existsSync(base)).toBe(false);
});

describe("/view", () => {
  it("annotated names, content types (the runner asks for files as written: no preview/channel variants)", async () => {
    const d = await start();
    const ws = await openNamed(d, "v");
    await run(d, ws, chain(0x336699, "v"));
    const annotated = await http(
      d.url,
      "GET",
      `/view?filename=${encodeURIComponent("v_00001_.png [output]")}&type=input`,
    );
    expect(annotated.status).toBe(200);
    expect((await http(d.url, "GET", "/view?filename=v_00001_.png&type=bogus")).status).toBe(400);
    expect((await http(d.url, "HEAD", "/view?filename=v_00001_.png")).status).toBe(200);
    const form = new FormData();
    form.append("image", new Blob(["<html>"]), "page.html");
    await http(d.url, "POST", "/upload/image", form);
    const html = await http(d.url, "GET", "/view?filename=page.html&type=input");
    expect(html.headers.get("content-type")).toBe("application/octet-stream");
  });
});

describe("HTTP surface", () => {
  it("/api prefix, 404/405 texts, GET / 404", async () => {
    const d = await start();
    expect((await http(d.url, "GET", "/api/queue")).json).toEqual({ queue_running: [], queue_pending: [] });
    const missing = await http(d.url, "GET", "/nope");
    expect([missing.status, missing.text]).toEqual([404, "404: Not Found"]);
    expect((await http(d.url, "GET", "/")).status).toBe(404);
    const wrong = await http(d.url, "DELETE", "/prompt");
    expect([wrong.status, wrong.text]).toEqual([405, "405: Method Not Allowed"]);
    const ws = await WsClient.open(d.url.replace(/$/, "/api"), "api");
    clients.push(ws);
    await ws.waitFor((m) => m.kind === "text" && m.type === "status");
    expect((await http(d.url, "POST", "/interrupt", "[1]")).status).toBe(500);
    expect((await http(d.url, "GET", "/models/checkpoints")).json).toEqual([]);
    expect((await http(d.url, "GET", "/models/nope")).status).toBe(404);
  });
});

describe("opaque classes and generic nodes", () => {
  it("a txt2img-shaped graph runs: KSampler drives progress, unknown-schema nodes pass digests, SaveImage writes a placeholder", async () => {
    const d = await start({ models: { checkpoints: ["sd15.safetensors"] } });
    const ws = await openNamed(d, "t2i");
    const prompt = txt2imgWorkflow({ prompt: "a cat", negative: "", seed: 42, steps: 4, prefix: "t2i" });
    const { id, from } = await run(d, ws, prompt);
    const progress = ws
      .texts()
      .slice(from)
      .filter((m) => m.type === "progress")
      .map((m) => `${m.data.value}/${m.data.max}`);
    expect(progress).toEqual(["1/4", "2/4", "3/4", "4/4"]);
    // Like ComfyUI 0.33 (recording 09): a JPEG latent preview after each step (PREVIEW_IMAGE, format 1).
    const previews = ws.messages.slice(from).filter((m) => m.kind === "binary");
    expect(previews.map((m) => m.kind === "binary" && [m.eventType, m.bytes[7]])).toEqual(Array(4).fill([1, 1]));
    const first = previews[0]?.kind === "binary" ? previews[0].bytes.subarray(8) : new Uint8Array();
    expect(await sharp(first).metadata()).toMatchObject({ format: "jpeg", width: 64, height: 64 });
    const out = await http(d.url, "GET", "/view?filename=t2i_00001_.png");
    expect(pngSize(out.bytes)).toEqual({ width: 64, height: 64 });
    expect(d.history()[id]?.status.status_str).toBe("success");
    // the seed changes the digest, hence the placeholder image
    const other = await run(d, ws, { ...prompt, "3": { ...prompt["3"], inputs: { ...prompt["3"].inputs, seed: 43 } } });
    expect(d.history()[other.id]?.status.status_str).toBe("success");
    const out2 = await http(d.url, "GET", "/view?filename=t2i_00002_.png");
    expect(Buffer.from(out2.bytes).equals(Buffer.from(out.bytes))).toBe(false);
    // without the model file the checkpoint loader fails validation like on the recorded server
    const bare = await startComfyDouble();
    try {
      const res = await http(bare.url, "POST", "/prompt", { prompt });
      expect(
        (res.json as { node_errors: Record<string, { errors: Array<{ type: string }> }> }).node_errors["4"]?.errors[0]
          ?.type,
      ).toBe("value_not_in_list");
    } finally {
      await bare.close();
    }
  });

  it("/object_info/{class}: the recorded 0.33 entry, {} for unknown classes; prompts() and uploads() logs", async () => {
    const d = await start();
    const recorded = (await import("./fixtures/object_info_v0.33.json", { with: { type: "json" } })).default;
    expect((await http(d.url, "GET", "/object_info/VAEDecode")).json).toEqual({ VAEDecode: recorded.VAEDecode });
    expect((await http(d.url, "GET", "/object_info/NoSuchNode")).json).toEqual({});
    const ws = await openNamed(d, "log");
    const { id } = await run(d, ws, chain(9));
    expect(d.prompts()).toEqual([{ prompt_id: id, number: 0, client_id: "log", prompt: chain(9) }]);
  });
});
