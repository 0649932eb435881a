/**
 * Checks template conversions against a real ComfyUI (not part of `npm test`: it needs the server):
 *
 *   COMFYUI_URL=http://127.0.0.1:8188 node test/templates/comfyui-verify.ts
 *
 * With the live server's own object_info, converts the real UI-format fixtures, points their checkpoint
 * at the server's first one (and LoadImage at an uploaded PNG), shrinks them (1 step, 64 px), queues each
 * converted graph and, for SD1.5, ComfyUI's API export of the same workflow with POST /prompt, and
 * compares what ComfyUI accepted and ran: no node errors, the same graph shape, an image out of each.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { crc32, deflateSync } from "node:zlib";
import type { Workflow } from "@comfy-edge/shared/contract";
import { buildTemplate, DEFAULT_SPECS } from "../../workers/gateway/src/templates/build.ts";
import { compactSpecs, RawObjectInfo } from "../../workers/gateway/src/templates/specs.ts";

const base = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const dir = path.join(import.meta.dirname, "../fixtures/workflows");
/** A 64x64 grey PNG. */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(64, 0);
  header.writeUInt32BE(64, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc(64 * (1 + 64 * 3), 128);
  for (let y = 0; y < 64; y++) rows[y * (1 + 64 * 3)] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

async function json<T>(res: Response): Promise<T> {
  if (!res.ok) throw new Error(`${res.url}: HTTP ${res.status} ${(await res.text()).slice(0, 500)}`);
  return (await res.json()) as T;
}

function shrink(workflow: Workflow, ckpt: string, image: string): Workflow {
  const w = structuredClone(workflow);
  for (const node of Object.values(w)) {
    const i = node.inputs;
    if ("ckpt_name" in i) i.ckpt_name = ckpt;
    if (node.class_type === "LoadImage") i.image = image;
    if ("steps" in i && typeof i.steps === "number") i.steps = 1;
    if ("width" in i && typeof i.width === "number") i.width = 64;
    if ("height" in i && typeof i.height === "number") i.height = 64;
    if (("seed" in i && i.seed === -1) || ("noise_seed" in i && i.noise_seed === -1)) i.seed = 1;
  }
  return w;
}

function shape(workflow: Workflow) {
  return JSON.stringify(
    Object.entries(workflow)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, n]) => [
        id,
        n.class_type,
        Object.keys(n.inputs).sort(),
        Object.entries(n.inputs)
          .filter(([, v]) => Array.isArray(v))
          .sort(),
      ]),
  );
}

async function queue(workflow: Workflow): Promise<string> {
  const res = await fetch(`${base}/prompt`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: workflow, client_id: "comfy-edge-template-verify" }),
  });
  const body = await json<{ prompt_id: string; node_errors: Record<string, unknown> }>(res);
  if (Object.keys(body.node_errors).length > 0) throw new Error(`node errors: ${JSON.stringify(body.node_errors)}`);
  return body.prompt_id;
}

async function finished(id: string): Promise<{ images: number; status: string }> {
  for (let i = 0; i < 600; i++) {
    const history = await json<
      Record<string, { status?: { status_str?: string }; outputs?: Record<string, { images?: unknown[] }> }>
    >(await fetch(`${base}/history/${id}`));
    const entry = history[id];
    if (entry?.status?.status_str) {
      const images = Object.values(entry.outputs ?? {}).reduce((n, o) => n + (o.images?.length ?? 0), 0);
      return { images, status: entry.status.status_str };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`prompt ${id} did not finish`);
}

const info = RawObjectInfo.parse(await json(await fetch(`${base}/object_info`)));
const specs = compactSpecs(info);
const ckpts = info.CheckpointLoaderSimple?.input.required?.ckpt_name?.[0];
const ckpt = Array.isArray(ckpts) && typeof ckpts[0] === "string" ? ckpts[0] : null;
if (!ckpt) throw new Error("the server has no checkpoint in models/checkpoints");
const form = new FormData();
form.append("image", new Blob([new Uint8Array(png())], { type: "image/png" }), "verify.png");
form.append("overwrite", "true");
const uploaded = await json<{ name: string }>(await fetch(`${base}/upload/image`, { method: "POST", body: form }));
const differ = Object.keys(specs).filter((c) => JSON.stringify(specs[c]) !== JSON.stringify(DEFAULT_SPECS[c]));
console.log(
  `ComfyUI at ${base}: ${Object.keys(info).length} classes, checkpoint ${ckpt}; input specs differing from the gateway's 0.33 table: ${differ.length}${differ.length ? ` (${differ.slice(0, 10).join(", ")})` : ""}`,
);

let failures = 0;
for (const file of ["sd15-txt2img.ui.json", "img2img.ui.json", "flux-guidance.ui.json"]) {
  try {
    const raw = JSON.parse(readFileSync(path.join(dir, file), "utf8"));
    const built = buildTemplate(raw, undefined, specs);
    const converted = shrink(built.workflow, ckpt, uploaded.name);
    const result = await finished(await queue(converted));
    let line = `${file}: accepted, ${result.status}, ${result.images} image(s)`;
    if (file === "sd15-txt2img.ui.json") {
      const exported = shrink(
        JSON.parse(readFileSync(path.join(dir, "sd15-txt2img.api.json"), "utf8")),
        ckpt,
        uploaded.name,
      );
      const other = await finished(await queue(exported));
      const same = shape(converted) === shape(exported);
      line += `; API export: ${other.status}, ${other.images} image(s); same graph shape: ${same}`;
      if (!same || other.status !== result.status) failures++;
    }
    console.log(line);
  } catch (err) {
    failures++;
    console.log(`${file}: ${(err as Error).message}`);
  }
}
process.exitCode = failures > 0 ? 1 : 0;
