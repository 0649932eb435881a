// Node classes the double runs. Schemas: ComfyUI 0.33's whole /object_info as recorded (886 classes). The image
// nodes below really run (8-bit RGB); every other class runs "opaque": typed outputs carrying digests.
import { readFileSync } from "node:fs";
import path from "node:path/posix";
import { KNOWN_MODEL_INPUTS } from "@comfy-edge/shared/capabilities/build";
import { annotatedInputPath, DIRS, type FileStore, getSaveImagePath, inputImageFiles, sha256 } from "./files.ts";
import {
  asImage,
  batchImages,
  blurImage,
  emptyImage,
  framePng,
  invertImage,
  isImage,
  isMask,
  loadImageBytes,
  type MaskValue,
  maskToImage,
  type PreviewFrame,
  scaleImage,
  solidMask,
  synthImage,
} from "./images.ts";
import { PyError, pyStr } from "./py.ts";

export type InputType = string | string[];
export type InputSpec = [InputType] | [InputType, Record<string, unknown>];
export interface InputTypes {
  required?: Record<string, InputSpec>;
  optional?: Record<string, InputSpec>;
  hidden?: Record<string, string>;
}

export interface SavedFile {
  filename: string;
  subfolder: string;
  type: string;
  bytes: Uint8Array;
}

export interface NodeContext {
  nodeId: string;
  promptId: string;
  /** the node's cache signature (stable digest source for opaque outputs) */
  signature: string;
  extraData: Record<string, unknown>;
  files: FileStore;
  /** per (node id, class) object, kept like ComfyUI's object cache (PreviewImage's random suffix lives here) */
  instance: Record<string, unknown>;
  random(): number;
  /** ProgressBar.update_absolute: may raise the interrupt; optional preview frame */
  progress(value: number, total: number, preview?: PreviewFrame): Promise<void>;
  /** PromptServer.send_progress_text (binary TEXT frame, broadcast) */
  progressText(text: string): void;
  saved(file: SavedFile): void;
  /** sleeps for this node's share of the simulated execution time */
  work(fraction?: number): Promise<void>;
}

export interface NodeResult {
  outputs: unknown[];
  ui?: Record<string, unknown[]>;
}

export interface NodeClass {
  name: string;
  inputTypes(): InputTypes;
  returnTypes: string[];
  outputNode: boolean;
  validateInputs?: { args: string[]; fn(inputs: Record<string, unknown>): true | false | string };
  isChanged?(inputs: Record<string, unknown>): unknown;
  /** object_info entry (recorded, with live file lists) */
  info(): Record<string, unknown>;
  run(ctx: NodeContext, inputs: Record<string, unknown>): Promise<NodeResult>;
}

/** ComfyUI 0.33's GET /object_info, recorded (the harness's checkpoint and input lists are replaced live). */
const RECORDED = JSON.parse(
  readFileSync(new URL("./fixtures/object_info_v0.33.json", import.meta.url), "utf8"),
) as Record<string, Record<string, unknown>>;

/** All class names the recorded server knew (886). */
export const KNOWN_CLASS_NAMES: readonly string[] = Object.keys(RECORDED);

const PREVIEW_ALPHABET = "abcdefghijklmnopqrstupvxyz"; // sic, as in nodes.py

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** JSON for a PNG tEXt chunk (Latin-1): non-ASCII escaped, as json.dumps' ensure_ascii does in ComfyUI's SaveImage. */
function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function num(v: unknown): number {
  return typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : Number.NaN;
}

function requireMask(v: unknown): MaskValue {
  if (isMask(v)) return v;
  throw new PyError("AttributeError", `'${v === null ? "NoneType" : typeof v}' object has no attribute 'reshape'`);
}

/** Loader inputs list the files of their model folder (ComfyUI's folder_paths), here the `models` option; the
 * harness's files are dropped, built-in choices without a file extension (VAELoader's "pixel_space") kept. */
function withModelLists(
  name: string,
  entry: Record<string, unknown>,
  models: Record<string, string[]>,
): Record<string, unknown> {
  const input = entry.input as InputTypes | undefined;
  for (const group of [input?.required, input?.optional]) {
    for (const [inputName, spec] of Object.entries(group ?? {})) {
      const folder = KNOWN_MODEL_INPUTS[`${name}.${inputName}`];
      if (folder === undefined) continue;
      const live = (recorded: unknown[]): string[] => [
        ...(models[folder] ?? []),
        ...recorded.filter((v): v is string => typeof v === "string" && !v.includes(".")),
      ];
      if (Array.isArray(spec[0])) spec[0] = live(spec[0]);
      else if (spec[0] === "COMBO" && Array.isArray(spec[1]?.options)) spec[1].options = live(spec[1].options);
    }
  }
  return entry;
}

export interface RegistryEnv {
  files: FileStore;
  models: Record<string, string[]>;
}

type RunFn = (ctx: NodeContext, inputs: Record<string, unknown>) => Promise<NodeResult>;

export function createRegistry(env: RegistryEnv): Map<string, NodeClass> {
  const registry = new Map<string, NodeClass>();

  const define = (
    name: string,
    run: RunFn,
    extra: Partial<Pick<NodeClass, "validateInputs" | "isChanged">> & {
      info?: (entry: Record<string, unknown>) => Record<string, unknown>;
    } = {},
  ): void => {
    const base = RECORDED[name];
    if (base === undefined) throw new Error(`no object_info entry for ${name}`);
    const info = (): Record<string, unknown> => {
      const entry = withModelLists(name, clone(base), env.models);
      return extra.info ? extra.info(entry) : entry;
    };
    registry.set(name, {
      name,
      inputTypes: () => {
        const input = info().input as InputTypes;
        // hidden inputs: "PROMPT" (classic nodes) or ["PROMPT"] (0.33's v3 nodes)
        const hidden = Object.entries(input.hidden ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]);
        return { ...input, hidden: Object.fromEntries(hidden) };
      },
      returnTypes: base.output as string[],
      outputNode: base.output_node === true,
      validateInputs: extra.validateInputs,
      isChanged: extra.isChanged,
      info,
      run,
    });
  };

  const simple = (fn: (inputs: Record<string, unknown>, ctx: NodeContext) => unknown[]): RunFn => {
    return async (ctx, inputs) => {
      await ctx.work();
      return { outputs: fn(inputs, ctx) };
    };
  };

  const saveImages = (kind: "output" | "temp", level: number): RunFn => {
    return async (ctx, inputs) => {
      await ctx.work();
      const images = asImage(inputs.images, "__getitem__");
      let prefixAppend = "";
      if (kind === "temp") {
        if (typeof ctx.instance.prefixAppend !== "string") {
          let s = "_temp_";
          for (let i = 0; i < 5; i++) s += PREVIEW_ALPHABET[Math.floor(ctx.random() * PREVIEW_ALPHABET.length)];
          ctx.instance.prefixAppend = s;
        }
        prefixAppend = ctx.instance.prefixAppend as string;
      }
      const prefix = (kind === "temp" ? "ComfyUI" : pyStr(inputs.filename_prefix ?? "ComfyUI")) + prefixAppend;
      const saved = getSaveImagePath(ctx.files, prefix, DIRS[kind], images.width, images.height);
      let counter = saved.counter;
      const text: Array<[string, string]> = [];
      if (inputs.prompt !== null && inputs.prompt !== undefined) text.push(["prompt", asciiJson(inputs.prompt)]);
      const pnginfo = inputs.extra_pnginfo;
      if (pnginfo !== null && typeof pnginfo === "object" && !Array.isArray(pnginfo)) {
        for (const [k, v] of Object.entries(pnginfo)) text.push([k, asciiJson(v)]);
      }
      const results: Array<{ filename: string; subfolder: string; type: string }> = [];
      for (let b = 0; b < images.frames.length; b++) {
        const file = `${saved.filename.replaceAll("%batch_num%", String(b))}_${String(counter).padStart(5, "0")}_.png`;
        const bytes = await framePng(images, b, level, text);
        ctx.files.write(path.join(saved.fullOutputFolder, file), bytes);
        ctx.saved({ filename: file, subfolder: saved.subfolder, type: kind, bytes });
        results.push({ filename: file, subfolder: saved.subfolder, type: kind });
        counter++;
      }
      return { outputs: [inputs.images], ui: { images: results } };
    };
  };

  define(
    "EmptyImage",
    simple((i) => [emptyImage(num(i.width), num(i.height), num(i.batch_size), num(i.color))]),
  );
  define(
    "ImageInvert",
    simple((i) => [invertImage(asImage(i.image, "__rsub__"))]),
  );
  const image = (fn: (inputs: Record<string, unknown>) => Promise<unknown>): RunFn => {
    return async (ctx, inputs) => {
      await ctx.work();
      return { outputs: [await fn(inputs)] };
    };
  };
  define(
    "ImageScale",
    image((i) =>
      scaleImage(asImage(i.image, "movedim"), num(i.width), num(i.height), pyStr(i.upscale_method), pyStr(i.crop)),
    ),
  );
  define(
    "ImageBlur",
    image((i) => blurImage(asImage(i.image, "shape"), num(i.blur_radius), num(i.sigma))),
  );
  define(
    "ImageBatch",
    image((i) => batchImages(asImage(i.image1, "shape"), asImage(i.image2, "shape"))),
  );
  define(
    "SolidMask",
    simple((i) => [solidMask(num(i.value), num(i.width), num(i.height))]),
  );
  define(
    "MaskToImage",
    simple((i) => [maskToImage(requireMask(i.mask))]),
  );
  define("SaveImage", saveImages("output", 4));
  define("PreviewImage", saveImages("temp", 1));

  define(
    "LoadImage",
    async (ctx, inputs) => {
      await ctx.work();
      const file = annotatedInputPath(pyStr(inputs.image));
      const stored = ctx.files.read(file);
      if (stored === undefined)
        throw new PyError("FileNotFoundError", `[Errno 2] No such file or directory: '${file}'`);
      const { image, mask } = await loadImageBytes(stored.bytes, file);
      return { outputs: [image, mask] };
    },
    {
      info: (entry) => {
        const input = entry.input as { required: { image: [unknown, unknown] } };
        input.required.image[0] = inputImageFiles(env.files);
        return entry;
      },
      validateInputs: {
        args: ["image"],
        fn: (inputs) => {
          const image = pyStr(inputs.image);
          return env.files.exists(annotatedInputPath(image)) ? true : `Invalid image file: ${image}`;
        },
      },
      isChanged: (inputs) => {
        const stored = env.files.read(annotatedInputPath(pyStr(inputs.image)));
        return stored === undefined ? Number.NaN : sha256(stored.bytes);
      },
    },
  );

  define(
    "SaveImageWebsocket",
    async (ctx, inputs) => {
      await ctx.work();
      const images = asImage(inputs.images, "shape");
      const total = images.frames.length;
      for (let step = 0; step < total; step++) await ctx.progress(step, total, { image: images, index: step });
      return { outputs: [] };
    },
    { isChanged: () => `${Date.now()}:${Math.random()}` },
  );

  define("GetImageSize", async (ctx, inputs) => {
    await ctx.work();
    const image = asImage(inputs.image, "shape");
    const batch = image.frames.length;
    ctx.progressText(`width: ${image.width}, height: ${image.height}\n batch size: ${batch}`);
    return { outputs: [image.width, image.height, batch] };
  });

  // KSampler: no weights, but a ProgressBar of `steps` with a JPEG preview per step, as 0.33 sends them (09).
  const generic = (name: string): RunFn => {
    return async (ctx, inputs) => {
      const steps = name === "KSampler" ? Math.max(0, Math.min(10_000, num(inputs.steps) || 0)) : 0;
      if (steps > 0) {
        for (let s = 0; s < steps; s++) {
          await ctx.work(1 / steps);
          const preview = synthImage(`${pyStr(inputs.seed ?? "")}:${s}`, 64, 64);
          await ctx.progress(s + 1, steps, { image: preview, index: 0, format: "jpeg" });
        }
      } else await ctx.work();
      const types = registry.get(name)?.returnTypes ?? [];
      const firstImage = Object.values(inputs).find(isImage);
      const firstMask = Object.values(inputs).find(isMask);
      return {
        outputs: types.map((t, i): unknown => {
          if (t === "IMAGE" && firstImage) return firstImage;
          if (t === "MASK" && firstMask) return firstMask;
          return { kind: "opaque", type: t, digest: sha256(new TextEncoder().encode(`${ctx.signature}#${i}`)) };
        }),
      };
    };
  };
  // Every other recorded class (KSampler, CheckpointLoaderSimple, CLIPTextEncode, ...) with its recorded schema.
  for (const name of KNOWN_CLASS_NAMES) if (!registry.has(name)) define(name, generic(name));
  return registry;
}

/** The /object_info body: every recorded class, in the recorded order. */
export function objectInfo(registry: Map<string, NodeClass>): Record<string, unknown> {
  return Object.fromEntries(KNOWN_CLASS_NAMES.map((name) => [name, registry.get(name)?.info()]));
}
