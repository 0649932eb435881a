// Node classes the double runs. Schemas: the recorded object_info subset (GetImageSize, SaveImageWebsocket: from
// 0.3.64's source). Other recorded class names are "opaque": no input checks, any output slot, digests as outputs.
import { readFileSync } from "node:fs";
import path from "node:path/posix";
import { annotatedInputPath, DIRS, type FileStore, getSaveImagePath, inputImageFiles, sha256 } from "./files.ts";
import {
  asImage,
  batchImages,
  blurImage,
  cropImage,
  emptyImage,
  framePng,
  invertImage,
  isImage,
  isMask,
  loadImageBytes,
  type MaskValue,
  maskToImage,
  type OpaqueValue,
  type PreviewFrame,
  scaleImage,
  solidMask,
  synthImage,
} from "./images.ts";
import { PyError, pyDumps, pyStr } from "./py.ts";

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
  /** undefined: schema unknown (opaque) -> any slot, type "*" */
  returnTypes: string[] | undefined;
  outputNode: boolean;
  validateInputs?: { args: string[]; fn(inputs: Record<string, unknown>): true | false | string };
  isChanged?(inputs: Record<string, unknown>): unknown;
  /** object_info entry; undefined for opaque classes */
  info(): Record<string, unknown> | undefined;
  run(ctx: NodeContext, inputs: Record<string, unknown>): Promise<NodeResult>;
}

interface ObjectInfoFixture {
  node_class_names: string[];
  entries: Record<string, Record<string, unknown>>;
}

const FIXTURE = JSON.parse(
  readFileSync(new URL("./fixtures/object_info_subset.json", import.meta.url), "utf8"),
) as ObjectInfoFixture;

const RECONSTRUCTED: Record<string, Record<string, unknown>> = {
  GetImageSize: {
    input: { required: { image: ["IMAGE", {}] }, hidden: { unique_id: "UNIQUE_ID" } },
    input_order: { required: ["image"], hidden: ["unique_id"] },
    output: ["INT", "INT", "INT"],
    output_is_list: [false, false, false],
    output_name: ["width", "height", "batch_size"],
    output_tooltips: [null, null, null],
    name: "GetImageSize",
    display_name: "Get Image Size",
    description: "Returns width and height of the image, and passes it through unchanged.",
    python_module: "comfy_extras.nodes_images",
    category: "image",
    output_node: false,
    deprecated: false,
    experimental: false,
    api_node: false,
  },
  SaveImageWebsocket: {
    input: { required: { images: ["IMAGE"] } },
    input_order: { required: ["images"] },
    output: [],
    output_is_list: [],
    output_name: [],
    name: "SaveImageWebsocket",
    display_name: "SaveImageWebsocket",
    description: "",
    python_module: "custom_nodes.websocket_image_save",
    category: "api node/image/websocket",
    output_node: true,
  },
};

/** All class names the recorded server knew (496). */
export const KNOWN_CLASS_NAMES: readonly string[] = FIXTURE.node_class_names;

const PREVIEW_ALPHABET = "abcdefghijklmnopqrstupvxyz"; // sic, as in nodes.py

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Python round(): half to even. */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function num(v: unknown): number {
  return typeof v === "number" ? v : typeof v === "boolean" ? Number(v) : Number.NaN;
}

function requireMask(v: unknown): MaskValue {
  if (isMask(v)) return v;
  throw new PyError("AttributeError", `'${v === null ? "NoneType" : typeof v}' object has no attribute 'reshape'`);
}

export interface RegistryEnv {
  files: FileStore;
  models: Record<string, string[]>;
}

type RunFn = (ctx: NodeContext, inputs: Record<string, unknown>) => Promise<NodeResult>;

export function createRegistry(env: RegistryEnv): Map<string, NodeClass> {
  const registry = new Map<string, NodeClass>();

  const entryOf = (name: string): Record<string, unknown> | undefined => FIXTURE.entries[name] ?? RECONSTRUCTED[name];

  const define = (
    name: string,
    run: RunFn,
    extra: Partial<Pick<NodeClass, "validateInputs" | "isChanged">> & {
      info?: (entry: Record<string, unknown>) => Record<string, unknown>;
    } = {},
  ): void => {
    const base = entryOf(name);
    if (base === undefined) throw new Error(`no object_info entry for ${name}`);
    const info = (): Record<string, unknown> => (extra.info ? extra.info(clone(base)) : clone(base));
    registry.set(name, {
      name,
      inputTypes: () => info().input as InputTypes,
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
      if (inputs.prompt !== null && inputs.prompt !== undefined) text.push(["prompt", pyDumps(inputs.prompt)]);
      const pnginfo = inputs.extra_pnginfo;
      if (pnginfo !== null && typeof pnginfo === "object" && !Array.isArray(pnginfo)) {
        for (const [k, v] of Object.entries(pnginfo)) text.push([k, pyDumps(v)]);
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
      return { outputs: [], ui: { images: results } };
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
  define(
    "ImageScale",
    simple((i) => [
      scaleImage(asImage(i.image, "movedim"), num(i.width), num(i.height), pyStr(i.upscale_method), pyStr(i.crop)),
    ]),
  );
  define(
    "ImageScaleBy",
    simple((i) => {
      const img = asImage(i.image, "movedim");
      const s = num(i.scale_by);
      return [scaleImage(img, pyRound(img.width * s), pyRound(img.height * s), pyStr(i.upscale_method), "disabled")];
    }),
  );
  define(
    "ImageBlur",
    simple((i) => [blurImage(asImage(i.image, "shape"), num(i.blur_radius))]),
  );
  define(
    "ImageBatch",
    simple((i) => [batchImages(asImage(i.image1, "shape"), asImage(i.image2, "shape"))]),
  );
  define(
    "ImageCrop",
    simple((i) => [cropImage(asImage(i.image, "shape"), num(i.width), num(i.height), num(i.x), num(i.y))]),
  );
  define(
    "SolidMask",
    simple((i) => [solidMask(num(i.value), num(i.width), num(i.height))]),
  );
  define(
    "MaskToImage",
    simple((i) => [maskToImage(requireMask(i.mask))]),
  );
  define(
    "PrimitiveInt",
    simple((i) => [i.value]),
  );
  define(
    "PrimitiveString",
    simple((i) => [i.value]),
  );
  define(
    "StringConcatenate",
    simple((i) => [`${pyStr(i.string_a)}${pyStr(i.delimiter)}${pyStr(i.string_b)}`]),
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
      const types = (registry.get(name)?.returnTypes ?? []) as string[];
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
  for (const name of ["KSampler", "CheckpointLoaderSimple"]) {
    define(name, generic(name), {
      info:
        name === "CheckpointLoaderSimple"
          ? (entry) => {
              const input = entry.input as { required: { ckpt_name: [unknown, unknown] } };
              input.required.ckpt_name[0] = [...(env.models.checkpoints ?? [])];
              return entry;
            }
          : undefined,
    });
  }

  for (const name of KNOWN_CLASS_NAMES) {
    if (registry.has(name)) continue;
    registry.set(name, {
      name,
      inputTypes: () => ({}),
      returnTypes: undefined,
      outputNode: false,
      info: () => undefined,
      run: async (ctx) => {
        await ctx.work();
        return {
          outputs: Array.from(
            { length: 16 },
            (_, i): OpaqueValue => ({
              kind: "opaque",
              type: "*",
              digest: sha256(new TextEncoder().encode(`${ctx.signature}#${i}`)),
            }),
          ),
        };
      },
    });
  }
  return registry;
}

/** The /object_info body: the classes with a schema (recorded or reconstructed), in name order. */
export function objectInfo(registry: Map<string, NodeClass>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of KNOWN_CLASS_NAMES) {
    const info = registry.get(name)?.info();
    if (info !== undefined) out[name] = info;
  }
  return out;
}
