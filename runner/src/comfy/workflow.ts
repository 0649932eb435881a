/**
 * Prepares a job's stored workflow for ComfyUI (pure):
 *  - `image` inputs the gateway replaced by `"input:<node id>"` -> the name ComfyUI gave the uploaded file;
 *  - every `filename_prefix` (SaveImage, SaveAnimatedWEBP, SaveVideo, SaveAudio, VHS_VideoCombine, ...) -> a
 *    prefix unique to this job and attempt, so concurrent jobs never write or read each other's files (and a
 *    client cannot point it outside ComfyUI's output folder);
 *  - seeds given as -1 (`seed`, `noise_seed`, `*_seed`) -> a random seed, reported back for reproducibility.
 */
import { randomInt } from "node:crypto";
import type { Workflow } from "../../../workers/shared/contract/jobs.ts";

export interface UploadedInput {
  /** What ComfyUI answered for /upload/image: the name (maybe deduplicated, "x (1).png") and subfolder. */
  name: string;
  subfolder: string;
}

export interface RewriteOptions {
  jobId: string;
  attempt: number;
  /** Uploaded inputs by the node id of the LoadImage-like node that uses them. */
  inputs: ReadonlyMap<string, UploadedInput>;
  /** Random seed source; default: crypto.randomInt over [0, 2^48). */
  randomSeed?: () => number;
}

export interface RewriteResult {
  workflow: Workflow;
  /** node id -> the filename_prefix it now has. */
  prefixes: Record<string, string>;
  /** "node.input" -> the seed that replaced -1. */
  seeds: Record<string, number>;
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

function safePart(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 80);
}

/** The per-job, per-attempt filename prefix of one output node. Flat (no subfolder), ComfyUI-safe. */
export function outputPrefix(jobId: string, attempt: number, nodeId: string): string {
  return `${safePart(jobId)}-a${attempt}-n${safePart(nodeId)}`;
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
  const seeds: Record<string, number> = {};
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
        } else if (name === "filename_prefix") {
          const prefix = outputPrefix(options.jobId, options.attempt, nodeId);
          node.inputs[name] = prefix;
          prefixes[nodeId] = prefix;
        }
      } else if (value === -1 && SEED_INPUT.test(name)) {
        const seed = randomSeed();
        node.inputs[name] = seed;
        seeds[`${nodeId}.${name}`] = seed;
      }
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
