/** Workflows the tests and the real-ComfyUI scripts share (API format). */

export interface Txt2ImgOptions {
  ckpt?: string;
  width?: number;
  height?: number;
  prompt?: string;
  negative?: string;
  /** -1 asks the runner to choose one. */
  seed?: number;
  steps?: number;
  prefix?: string;
}

/** SD1.5 text to image: checkpoint -> two prompts -> KSampler (euler, cfg 7) -> VAE decode -> SaveImage. */
export function txt2imgWorkflow(o: Txt2ImgOptions = {}) {
  return {
    "3": {
      class_type: "KSampler",
      inputs: {
        seed: o.seed ?? 1,
        steps: o.steps ?? 20,
        cfg: 7,
        sampler_name: "euler",
        scheduler: "normal",
        denoise: 1,
        model: ["4", 0],
        positive: ["6", 0],
        negative: ["7", 0],
        latent_image: ["5", 0],
      },
    },
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: o.ckpt ?? "sd15.safetensors" } },
    "5": { class_type: "EmptyLatentImage", inputs: { width: o.width ?? 512, height: o.height ?? 512, batch_size: 1 } },
    "6": { class_type: "CLIPTextEncode", inputs: { text: o.prompt ?? "a harbour at dawn", clip: ["4", 1] } },
    "7": { class_type: "CLIPTextEncode", inputs: { text: o.negative ?? "blurry", clip: ["4", 1] } },
    "8": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
    "9": { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: o.prefix ?? "t" } },
  };
}
