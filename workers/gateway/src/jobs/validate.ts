/**
 * Meaning checks (422) on a workflow that already passed the shape checks (400, zod): links point at
 * nodes that exist and at sensible outputs, no cycles, at least one output node. Every rejection names
 * the node in `param` (e.g. `workflow.7.inputs.clip`).
 */
import { isLink, JobCreate, type Workflow } from "@comfy-edge/shared/contract";
import { ApiError } from "@comfy-edge/shared/errors";
import { parseWith } from "../lib/body.ts";
import { FILE_READER_INPUTS } from "./node-policy.ts";

/** Classes ComfyUI treats as outputs (`OUTPUT_NODE = True`) among core and common nodes. */
export const OUTPUT_NODE_TYPES: ReadonlySet<string> = new Set([
  "SaveImage",
  "PreviewImage",
  "SaveAnimatedWEBP",
  "SaveAnimatedPNG",
  "SaveImageWebsocket",
  "SaveVideo",
  "SaveWEBM",
  "SaveAudio",
  "SaveAudioMP3",
  "SaveAudioOpus",
  "PreviewAudio",
  "SaveGLB",
  "SaveLatent",
  "PreviewAny",
  "VHS_VideoCombine",
]);

function param(nodeId: string, input?: string): string {
  return input === undefined ? `workflow.${nodeId}` : `workflow.${nodeId}.inputs.${input}`;
}

export function validateWorkflow(workflow: Workflow, outputTypes: ReadonlySet<string> = OUTPUT_NODE_TYPES): void {
  const ids = Object.keys(workflow);
  for (const id of ids) {
    const node = workflow[id]!;
    for (const [name, value] of Object.entries(node.inputs)) {
      if (!isLink(value)) continue;
      const [target] = value;
      if (!(target in workflow)) {
        throw new ApiError(
          422,
          "invalid_workflow",
          `Node ${id} (${node.class_type}) input '${name}' links to node ${target}, which is not in the workflow.`,
          {
            param: param(id, name),
          },
        );
      }
      if (target === id) {
        throw new ApiError(422, "workflow_cycle", `Node ${id} (${node.class_type}) input '${name}' links to itself.`, {
          param: param(id, name),
        });
      }
    }
  }
  // Cycle check: iterative DFS with colours.
  const colour = new Map<string, 1 | 2>();
  for (const start of ids) {
    if (colour.has(start)) continue;
    const stack: Array<{ id: string; edges: Array<[string, string]>; i: number }> = [];
    const push = (id: string) => {
      colour.set(id, 1);
      const edges = Object.entries(workflow[id]!.inputs)
        .filter(([, v]) => isLink(v))
        .map(([name, v]) => [name, (v as [string, number])[0]] as [string, string]);
      stack.push({ id, edges, i: 0 });
    };
    push(start);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.i >= top.edges.length) {
        colour.set(top.id, 2);
        stack.pop();
        continue;
      }
      const [name, next] = top.edges[top.i++]!;
      const c = colour.get(next);
      if (c === 1) {
        throw new ApiError(
          422,
          "workflow_cycle",
          `The workflow has a cycle: node ${top.id} input '${name}' depends on node ${next}, which depends on node ${top.id}.`,
          {
            param: param(top.id, name),
          },
        );
      }
      if (c === undefined) push(next);
    }
  }
  if (!ids.some((id) => outputTypes.has(workflow[id]!.class_type))) {
    throw new ApiError(
      422,
      "no_output_node",
      `The workflow has no output node, so it would produce nothing. Add one of: ${[...outputTypes].slice(0, 6).join(", ")}.`,
      { param: "workflow" },
    );
  }
}

export type FileInputValue =
  | { node_id: string; input: string; kind: "url"; url: string }
  | { node_id: string; input: string; kind: "data"; url: string }
  | { node_id: string; input: string; kind: "file"; file_id: string };

/** `https:`, `ftp:`, `file:///...`: a URL scheme (two letters or more, so `C:\\x` stays a file name). */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]+:/;
const FILE_REF = /^file:(?!\/)/;
const MANAGED = "an https:// URL, a data:image/... URL or file:<id> from POST /v1/files";

/**
 * The file inputs of file-reading nodes (LoadImage, LoadImageMask and whatever else the node policy
 * allows; `readers` maps class -> inputs), classified. Each must be a link or a managed reference: a URL
 * (the URL guard judges its scheme and host), `data:` or `file:<id>`. Anything else would name a file on
 * the GPU host (`x.png`, `x [output]`, `../output/x`) and is refused. One managed reference per node.
 */
export function fileInputs(
  workflow: Workflow,
  readers: ReadonlyMap<string, readonly string[]> = FILE_READER_INPUTS,
): FileInputValue[] {
  const out: FileInputValue[] = [];
  for (const [id, node] of Object.entries(workflow)) {
    const names = readers.get(node.class_type);
    if (!names) continue;
    let taken: string | null = null;
    for (const input of names) {
      if (!(input in node.inputs)) continue;
      const value = node.inputs[input];
      if (isLink(value)) continue;
      const where = { param: param(id, input) };
      if (typeof value !== "string" || value === "") {
        throw new ApiError(
          400,
          "invalid_request",
          `Node ${id} (${node.class_type}) needs '${input}' as a string: ${MANAGED}.`,
          where,
        );
      }
      if (taken !== null) {
        throw new ApiError(
          422,
          "invalid_input",
          `Node ${id} (${node.class_type}) takes one uploaded file; '${taken}' already has one. Link '${input}' to another node instead.`,
          where,
        );
      }
      taken = input;
      if (/^data:/i.test(value)) out.push({ node_id: id, input, kind: "data", url: value });
      else if (FILE_REF.test(value)) {
        const fileId = value.slice(5);
        if (!/^file_[0-9A-Za-z]{16}$/.test(fileId)) {
          throw new ApiError(
            422,
            "unknown_file",
            `Node ${id}: '${value.slice(0, 80)}' is not a file id from POST /v1/files.`,
            where,
          );
        }
        out.push({ node_id: id, input, kind: "file", file_id: fileId });
      } else if (SCHEME.test(value.trim())) out.push({ node_id: id, input, kind: "url", url: value });
      else {
        throw new ApiError(
          422,
          "invalid_input",
          `Node ${id} (${node.class_type}) input '${input}' is '${value.slice(0, 80)}', a file name on the GPU host; give ${MANAGED}. File names on the GPU host (including 'x [output]' and paths) are not allowed.`,
          where,
        );
      }
    }
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What ComfyUI's "Save" writes (the editor's graph): `nodes` and `links` arrays, `last_node_id`. */
function isUiFormat(value: unknown): boolean {
  return isObject(value) && Array.isArray(value.nodes) && (Array.isArray(value.links) || "last_node_id" in value);
}

/** Every value an object with `class_type`: an API-format workflow sent without the `{"workflow": ...}` wrapper. */
function isBareWorkflow(value: Record<string, unknown>): boolean {
  const nodes = Object.values(value);
  return nodes.length > 0 && nodes.every((n) => isObject(n) && typeof n.class_type === "string");
}

/**
 * The submit body (400 on shape). Two common mistakes get their own answer instead of a field error:
 * a workflow in ComfyUI's UI format (400 `ui_format_workflow`) and a bare workflow without the wrapper.
 */
export function parseJobCreate(raw: unknown): JobCreate {
  if (isObject(raw)) {
    const ui = isUiFormat(raw.workflow) ? "workflow" : !("workflow" in raw) && isUiFormat(raw) ? null : undefined;
    if (ui !== undefined) {
      throw new ApiError(
        400,
        "ui_format_workflow",
        'This is a workflow in ComfyUI\'s UI format (what "Save" writes: nodes, links, last_node_id). Export it with "Export (API)" in ComfyUI (enable the dev mode options in the settings if the menu lacks it) and send that as "workflow".',
        { param: ui },
      );
    }
    if (!("workflow" in raw) && isBareWorkflow(raw)) {
      throw new ApiError(
        400,
        "invalid_request",
        'workflow: is required. The body looks like a workflow on its own; send it wrapped as {"workflow": {...}}.',
        { param: "workflow" },
      );
    }
  }
  return parseWith(JobCreate, raw);
}
