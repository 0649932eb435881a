/**
 * Manual check (not part of npm test): the calls the runner makes, sent to the double and to a real ComfyUI
 * (COMFYUI_URL, default http://127.0.0.1:8188), answers compared by status, content type and JSON shape
 * (ids, timestamps, file names and numbers normalised). Prints one line per call and every disagreement.
 *
 *   ./node_modules/node/bin/node test/comfyui-double/compare-real.ts
 */
import { randomInt, randomUUID } from "node:crypto";
import sharp from "sharp";
import WebSocket from "ws";
import { txt2imgWorkflow } from "../harness/workflows.ts";
import { startComfyDouble } from "./index.ts";

const REAL = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const CKPT = "tiny-random-sd15-small.safetensors";

interface Answer {
  status: number;
  type: string;
  body: unknown;
}

async function call(base: string, method: string, path: string, body?: unknown, form?: FormData): Promise<Answer> {
  const init: RequestInit = { method };
  if (form) init.body = form;
  else if (typeof body === "string") init.body = body;
  else if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(base + path, init);
  const type = (res.headers.get("content-type") ?? "").split(";")[0] ?? "";
  const bytes = Buffer.from(await res.arrayBuffer());
  let parsed: unknown = `<${bytes.length} bytes>`;
  if (type === "application/json") parsed = JSON.parse(bytes.toString("utf8"));
  else if (type.startsWith("text/")) parsed = bytes.toString("utf8").slice(0, 120);
  return { status: res.status, type, body: parsed };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The shape of a value: objects by keys, arrays by their elements' shapes, scalars by type (strings kept
 * when they look like enum-ish words). */
function shape(v: unknown, depth = 0): unknown {
  if (v === null) return null;
  if (Array.isArray(v)) return depth > 6 ? "[...]" : [...new Set(v.map((x) => JSON.stringify(shape(x, depth + 1))))];
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const key = /^\d+$/.test(k) || UUID.test(k) ? "<id>" : k;
      out[key] = shape((v as Record<string, unknown>)[k], depth + 1);
    }
    return out;
  }
  if (typeof v === "string") return UUID.test(v) ? "<uuid>" : /^[a-z_]{3,40}$/.test(v) ? v : "string";
  return typeof v;
}

/** Differences that are not disagreements: state of the real server, or Python set order. */
const BY_DESIGN: Record<string, string> = {
  "GET /object_info/LoadImage": "the combo lists each server's own input/ files",
  "POST /prompt missing input": "required_input_missing errors come in Python set order (random per process)",
  "GET /queue": "the real server may be running someone else's prompt",
};

const diffs: string[] = [];
function compare(name: string, a: Answer, b: Answer): void {
  const left = JSON.stringify({ status: a.status, type: a.type, body: shape(a.body) });
  const right = JSON.stringify({ status: b.status, type: b.type, body: shape(b.body) });
  const verdict = left === right ? "same" : BY_DESIGN[name] ? `differs by design (${BY_DESIGN[name]}):` : "DIFF";
  console.log(`${verdict}  ${name}  (${a.status} ${a.type})`);
  if (verdict === "DIFF") diffs.push(`${name}\n  real:   ${left.slice(0, 1500)}\n  double: ${right.slice(0, 1500)}`);
}

/** Websocket frames of one prompt, as `type` (+ node) strings, until `executing {node: null}`. */
async function run(
  base: string,
  prompt: unknown,
  onProgress?: () => void,
): Promise<{ post: Answer; frames: string[]; id: string }> {
  const clientId = randomUUID();
  const ws = new WebSocket(`${base.replace("http", "ws")}/ws?clientId=${clientId}`, { perMessageDeflate: false });
  await new Promise((r) => ws.once("open", r));
  const frames: string[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  ws.on("message", (data, binary) => {
    if (binary) {
      const b = data as Buffer;
      frames.push(`binary:${b.readUInt32BE(0)}/${b.readUInt32BE(4)}`);
      return;
    }
    const m = JSON.parse(String(data)) as { type: string; data: Record<string, unknown> };
    if (m.type === "status" || m.type === "crystools.monitor") return;
    const node = m.data.node ?? m.data.node_id;
    if (m.type === "progress" && onProgress) {
      onProgress();
      onProgress = undefined;
    }
    // consecutive progress_state frames collapsed (their number depends on timing)
    const frame = `${m.type}${node !== undefined ? `:${node}` : ""}`;
    if (frame !== "progress_state" || frames.at(-1) !== frame) frames.push(frame);
    if (m.type === "executing" && m.data.node === null) done();
  });
  const post = await call(base, "POST", "/prompt", { prompt, client_id: clientId });
  const id = (post.body as { prompt_id?: string }).prompt_id ?? "";
  if (post.status === 200) await finished;
  ws.close();
  return { post, frames, id };
}

const trivial = {
  // a colour of its own, so that the real server has nothing cached from an earlier run
  "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: randomInt(1 << 24) } },
  "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
  "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: `cmp/${randomUUID().slice(0, 8)}` } },
};
const invalid: Record<string, unknown> = {
  "missing input": { "1": { class_type: "EmptyImage", inputs: { width: 64 } }, "3": trivial["3"], "2": trivial["2"] },
  "unknown class": { "1": { class_type: "NoSuchNode", inputs: {} } },
  "value not in list": {
    ...trivial,
    "2": {
      class_type: "ImageScale",
      inputs: { image: ["1", 0], upscale_method: "x", width: 8, height: 8, crop: "disabled" },
    },
  },
  "int above max": { ...trivial, "1": { ...trivial["1"], inputs: { ...trivial["1"].inputs, width: 1e9 } } },
  "bad link": { ...trivial, "2": { class_type: "ImageInvert", inputs: { image: ["9", 0] } } },
  "no outputs": { "1": trivial["1"] },
  "bad checkpoint": {
    "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "nope.safetensors" } },
    "2": { class_type: "PreviewAny", inputs: { source: ["1", 0] } },
  },
};

async function main(): Promise<void> {
  const double = await startComfyDouble({ models: { checkpoints: [CKPT] } });
  const both = async (name: string, f: (base: string) => Promise<Answer>) =>
    compare(name, await f(REAL), await f(double.url));
  try {
    for (const p of [
      "/system_stats",
      "/queue",
      "/models",
      "/models/checkpoints",
      "/object_info/SaveImage",
      "/object_info/KSampler",
      "/object_info/LoadImage",
      "/object_info/NoSuchNode",
      "/history/nope",
    ]) {
      await both(`GET ${p}`, (b) => call(b, "GET", p));
    }
    const all = [await call(REAL, "GET", "/object_info"), await call(double.url, "GET", "/object_info")];
    const names = all.map((a) => Object.keys(a.body as object).length);
    console.log(`/object_info classes: real ${names[0]}, double ${names[1]}`);
    for (const [name, prompt] of Object.entries(invalid))
      await both(`POST /prompt ${name}`, (b) => call(b, "POST", "/prompt", { prompt }));
    await both("POST /prompt not JSON", (b) => call(b, "POST", "/prompt", "{nope"));
    await both("POST /prompt prompt not an object", (b) => call(b, "POST", "/prompt", { prompt: 3 }));
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#336699" } })
      .png()
      .toBuffer();
    const upload = (b: string, overwrite?: string) => {
      const form = new FormData();
      form.append("image", new Blob([png], { type: "image/png" }), "cmp-upload.png");
      if (overwrite) form.append("overwrite", overwrite);
      return call(b, "POST", "/upload/image", undefined, form);
    };
    await both("POST /upload/image", (b) => upload(b, "true"));
    await both("POST /upload/image no file", (b) => call(b, "POST", "/upload/image", undefined, new FormData()));
    // a trivial graph, its history and its output
    const runs = [await run(REAL, trivial), await run(double.url, trivial)] as const;
    compare("POST /prompt trivial", runs[0].post, runs[1].post);
    console.log(`  frames real:   ${runs[0].frames.join(" ")}\n  frames double: ${runs[1].frames.join(" ")}`);
    if (runs[0].frames.join() !== runs[1].frames.join()) diffs.push("trivial graph: websocket frames differ");
    const hist = [
      await call(REAL, "GET", `/history/${runs[0].id}`),
      await call(double.url, "GET", `/history/${runs[1].id}`),
    ] as const;
    compare("GET /history/{id}", hist[0], hist[1]);
    const image = (h: Answer, id: string) =>
      (h.body as Record<string, { outputs: Record<string, { images: Record<string, string>[] }> }>)[id]?.outputs["3"]
        ?.images[0] ?? {};
    const view = (b: string, ref: Record<string, string>) => call(b, "GET", `/view?${new URLSearchParams(ref)}`);
    compare(
      "GET /view output",
      await view(REAL, image(hist[0], runs[0].id)),
      await view(double.url, image(hist[1], runs[1].id)),
    );
    await both("GET /view missing", (b) => view(b, { filename: "nope.png", type: "output", subfolder: "" }));
    await both("GET /view ..", (b) => view(b, { filename: "../x.png", type: "output", subfolder: "" }));
    // an execution error
    const failing = {
      ...trivial,
      "3": { ...trivial["3"], inputs: { ...trivial["3"].inputs, filename_prefix: "../x" } },
    };
    const errs = [await run(REAL, failing), await run(double.url, failing)] as const;
    console.log(`  frames real:   ${errs[0].frames.join(" ")}\n  frames double: ${errs[1].frames.join(" ")}`);
    if (errs[0].frames.join() !== errs[1].frames.join()) diffs.push("execution error: websocket frames differ");
    compare(
      "GET /history/{id} after execution error",
      await call(REAL, "GET", `/history/${errs[0].id}`),
      await call(double.url, "GET", `/history/${errs[1].id}`),
    );
    // KSampler with the random-weight checkpoint: progress and a preview frame per step
    const t2i = txt2imgWorkflow({ ckpt: CKPT, width: 64, height: 64, steps: 3, prefix: "cmp/t2i" });
    const k = [await run(REAL, t2i), await run(double.url, t2i)] as const;
    console.log(`  frames real:   ${k[0].frames.join(" ")}\n  frames double: ${k[1].frames.join(" ")}`);
    if (k[0].frames.join() !== k[1].frames.join()) diffs.push("KSampler graph: websocket frames differ");
    compare(
      "GET /history/{id} KSampler graph",
      await call(REAL, "GET", `/history/${k[0].id}`),
      await call(double.url, "GET", `/history/${k[1].id}`),
    );
    // interrupt while KSampler runs (after its first progress frame)
    double.setNodeDelay("KSampler", 3000);
    const long = txt2imgWorkflow({ ckpt: CKPT, width: 64, height: 64, steps: 30, seed: 2, prefix: "cmp/int" });
    const stop = (b: string) => () => void call(b, "POST", "/interrupt");
    const ints = [await run(REAL, long, stop(REAL)), await run(double.url, long, stop(double.url))] as const;
    const cut = (f: string[]) => f.filter((x) => x !== "progress:3" && !x.startsWith("binary"));
    console.log(`  frames real:   ${cut(ints[0].frames).join(" ")}\n  frames double: ${cut(ints[1].frames).join(" ")}`);
    if (cut(ints[0].frames).join() !== cut(ints[1].frames).join()) diffs.push("interrupt: websocket frames differ");
    compare(
      "GET /history/{id} interrupted",
      await call(REAL, "GET", `/history/${ints[0].id}`),
      await call(double.url, "GET", `/history/${ints[1].id}`),
    );
    await both("POST /interrupt idle", (b) => call(b, "POST", "/interrupt", { prompt_id: randomUUID() }));
    await both("POST /interrupt no body", (b) => call(b, "POST", "/interrupt"));
    await both("POST /queue delete", (b) => call(b, "POST", "/queue", { delete: [randomUUID()] }));
    await both("POST /history delete", (b) => call(b, "POST", "/history", { delete: [runs[0].id, runs[1].id] }));
  } finally {
    await double.close();
  }
  console.log(diffs.length ? `\n${diffs.length} disagreements:\n${diffs.join("\n")}` : "\nno disagreements");
}

await main();
