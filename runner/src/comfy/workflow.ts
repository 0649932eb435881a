/**
 * Prepares a job's stored workflow for ComfyUI (pure):
 *  - `image` inputs the gateway replaced by `"input:<node id>"` -> the name ComfyUI gave the uploaded file;
 *  - every `filename_prefix` (SaveImage, SaveAnimatedWEBP, SaveVideo, SaveAudio, VHS_VideoCombine, ...), and
 *    the nodes whose schema has one but the workflow left it out -> `<run folder>/<the client's prefix, made
 *    safe>`: the run folder is random per attempt, so concurrent jobs never write or read each other's files, a
 *    client cannot point it outside ComfyUI's output folder, and the file keeps the client's name
 *    (`<prefix>_00001_.png`);
 *  - seeds given as -1 (`seed`, `noise_seed`, `*_seed`) -> a random seed, reported back for reproducibility.
 */
import { randomBytes, randomInt } from "node:crypto";
import type { Workflow } from "@comfy-edge/shared/contract/jobs";

export interface UploadedInput {
  /** What ComfyUI answered for /upload/image: the name (maybe deduplicated, "x (1).png") and subfolder. */
  name: string;
  subfolder: string;
}

export interface RewriteOptions {
  /** The run's own subfolder (random per attempt, e.g. "comfy-edge/3f9c..."): outputs are saved there. */
  runFolder: string;
  /** Nodes that take a `filename_prefix` the workflow does not give (from ComfyUI's /object_info). */
  prefixNodes?: ReadonlySet<string>;
  /** Uploaded inputs by the node id of the LoadImage-like node that uses them. */
  inputs: ReadonlyMap<string, UploadedInput>;
  /** Random seed source; default: crypto.randomInt over [0, 2^48). */
  randomSeed?: () => number;
}

export interface RewriteResult {
  workflow: Workflow;
  /** node id -> the filename_prefix it now has. */
  prefixes: Record<string, string>;
  /** node id -> input name -> the seed that replaced -1 (reported as the run's resolved inputs). */
  seeds: Record<string, Record<string, number>>;
}

export class WorkflowRewriteError extends Error {
  readonly nodeId: string;
  readonly nodeType: string;
  constructor(nodeId: string, nodeType: string, message: string) {
    super(message);
    this.name = "WorkflowRewriteError";
    this.nodeId = nodeId;
    this.nodeType = nodeType;
  }
}

const INPUT_REF = /^input:(.+)$/;
const SEED_INPUT = /(^|_)seed$/i;

/**
 * A fresh subfolder for one run (attempt) of a job, under ComfyUI's input/ and output/ folders: random, so no
 * other job can guess the names of this one's inputs and outputs, and all of them can be removed afterwards.
 */
export function newRunFolder(): string {
  return `comfy-edge/${randomBytes(12).toString("hex")}`;
}

const DEFAULT_PREFIX = "ComfyUI";

/**
 * The client's filename_prefix as a flat, file-system-safe name (ComfyUI's default "ComfyUI" when it is
 * missing, empty or not a string): path separators and other characters become "_", no leading dots.
 */
export function clientPrefix(value: unknown): string {
  if (typeof value !== "string") return DEFAULT_PREFIX;
  const safe = value
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[._]+/, "")
    .slice(0, 64)
    .replace(/[._]+$/, "");
  return safe || DEFAULT_PREFIX;
}

/** The filename_prefix ComfyUI gets: the run's folder, then the client's name for the files. */
export function outputPrefix(runFolder: string, value: unknown): string {
  return `${runFolder}/${clientPrefix(value)}`;
}

/** The value for a LoadImage `image` input: "name" or "subfolder/name". */
export function imageValue(input: UploadedInput): string {
  return input.subfolder ? `${input.subfolder}/${input.name}` : input.name;
}

export function rewriteWorkflow(source: Workflow, options: RewriteOptions): RewriteResult {
  const randomSeed = options.randomSeed ?? (() => randomInt(0, 2 ** 48 - 1));
  const workflow: Workflow = {};
  for (const [id, node] of Object.entries(source)) {
    // Nodes and their inputs are copied (they are rewritten below); input values are shared, never mutated.
    workflow[id] = { ...node, inputs: { ...node.inputs } };
  }
  const prefixes: Record<string, string> = {};
  const seeds: Record<string, Record<string, number>> = {};
  for (const [nodeId, node] of Object.entries(workflow)) {
    for (const [name, value] of Object.entries(node.inputs)) {
      if (typeof value === "string") {
        const ref = INPUT_REF.exec(value);
        if (ref && ref[1] === nodeId) {
          const uploaded = options.inputs.get(nodeId);
          if (!uploaded) {
            throw new WorkflowRewriteError(
              nodeId,
              node.class_type,
              `Node ${nodeId} (${node.class_type}) input '${name}' refers to an input image the lease did not provide.`,
            );
          }
          node.inputs[name] = imageValue(uploaded);
        }
      }
      if (name === "filename_prefix") {
        // Any value (a string, or a link to a node that would compute one) becomes the run's own prefix.
        const prefix = outputPrefix(options.runFolder, value);
        node.inputs[name] = prefix;
        prefixes[nodeId] = prefix;
      } else if (value === -1 && SEED_INPUT.test(name)) {
        const seed = randomSeed();
        node.inputs[name] = seed;
        seeds[nodeId] = { ...seeds[nodeId], [name]: seed };
      }
    }
  }
  for (const nodeId of options.prefixNodes ?? []) {
    const node = workflow[nodeId];
    if (node && !("filename_prefix" in node.inputs)) {
      const prefix = outputPrefix(options.runFolder, undefined);
      node.inputs.filename_prefix = prefix;
      prefixes[nodeId] = prefix;
    }
  }
  return { workflow, prefixes, seeds };
}

const EXTENSION: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
  "image/gif": "gif",
  "image/bmp": "bmp",
  "image/tiff": "tiff",
};

/** File name for an uploaded input: the gateway's suggestion plus an extension ComfyUI recognises as an image. */
export function inputFileName(suggested: string, contentType: string | null): string {
  const base = suggested.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 120) || "input";
  if (/\.(png|jpe?g|webp|gif|bmp|tiff?)$/i.test(base)) return base;
  const ext = EXTENSION[(contentType ?? "").split(";")[0]!.trim().toLowerCase()] ?? "png";
  return `${base}.${ext}`;
}
