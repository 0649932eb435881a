/** Templates served as image models, and a scripted runner that answers every job with distinct PNGs. */

import type { LeaseGrant } from "@comfy-edge/shared/contract";
import OpenAI from "openai";
import { ensurePool, runnerToken, type ScriptedRunner, tenantWithKey } from "../harness/api.ts";
import type { Stack } from "../harness/stack.ts";
import { txt2imgWorkflow } from "../harness/workflows.ts";

const PNG_HEX =
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea73581e40000000049454e44ae426082";
/** A valid 1x1 PNG with `tag` after its end, so every output's bytes differ. */
export function png(tag: string): Uint8Array {
  return new Uint8Array([...Buffer.from(PNG_HEX, "hex"), ...Buffer.from(tag)]);
}

export const T2I = txt2imgWorkflow({
  ckpt: "tiny-random-sd15-small.safetensors",
  prompt: "a cat",
  seed: 7,
  prefix: "img",
});

/** img2img over a batch of 4 loaded images, with a mask. */
export const EDIT4 = {
  ...T2I,
  "3": { ...T2I["3"], inputs: { ...T2I["3"].inputs, latent_image: ["16", 0], denoise: 0.6 } },
  "10": { class_type: "LoadImage", inputs: { image: "a.png" } },
  "11": { class_type: "LoadImage", inputs: { image: "b.png" } },
  "12": { class_type: "LoadImage", inputs: { image: "c.png" } },
  "13": { class_type: "LoadImage", inputs: { image: "d.png" } },
  "14": { class_type: "LoadImageMask", inputs: { image: "mask.png", channel: "alpha" } },
  "17": { class_type: "ImageBatch", inputs: { image1: ["10", 0], image2: ["11", 0] } },
  "18": { class_type: "ImageBatch", inputs: { image1: ["17", 0], image2: ["12", 0] } },
  "19": { class_type: "ImageBatch", inputs: { image1: ["18", 0], image2: ["13", 0] } },
  "15": { class_type: "VAEEncode", inputs: { pixels: ["19", 0], vae: ["4", 2] } },
  "16": { class_type: "SetLatentNoiseMask", inputs: { samples: ["15", 0], mask: ["14", 0] } },
};

export interface Served {
  grant: LeaseGrant;
  /** Bytes of each input, by node id. */
  inputs: Record<string, Uint8Array>;
  outputs: Uint8Array[];
}

/** Leases and answers jobs until stopped: one PNG per batch item (EmptyLatentImage's batch_size). */
export function serveJobs(runner: ScriptedRunner) {
  const served: Served[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const grant = await runner.lease(1);
      if (!grant) continue;
      const inputs: Record<string, Uint8Array> = {};
      for (const i of grant.inputs) inputs[i.node_id] = new Uint8Array(await (await fetch(i.url)).arrayBuffer());
      const wf = grant.job.workflow as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
      const batch = Object.values(wf).find((n) => n.class_type === "EmptyLatentImage")?.inputs.batch_size;
      const outputs: Uint8Array[] = [];
      const refs = [];
      for (let k = 0; k < (typeof batch === "number" ? batch : 1); k++) {
        const bytes = png(`${grant.job.id}:${k}`);
        outputs.push(bytes);
        refs.push((await runner.upload(grant.lease.id, bytes, `img_${k}.png`)).ref);
      }
      served.push({ grant, inputs, outputs });
      await runner.event(grant.lease.id, { type: "succeeded", outputs: refs });
    }
  })();
  return {
    served,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

export async function imageTenant(stack: Stack, pool: string) {
  await ensurePool(stack, pool);
  const token = await runnerToken(stack, pool);
  const t = await tenantWithKey(stack, { default_pool: pool });
  const client = new OpenAI({ apiKey: t.key, baseURL: `${stack.url}/v1`, maxRetries: 0, timeout: 60_000 });
  return { ...t, token, client };
}
