/**
 * Meaning checks (422) on a workflow that already passed the shape checks (400, zod): links point at
 * nodes that exist and at sensible outputs, no cycles, at least one output node. Every rejection names
 * the node in `param` (e.g. `workflow.7.inputs.clip`).
 */
import { isLink, type Workflow } from "../../../shared/contract/index.ts";
import { ApiError } from "../../../shared/errors.ts";

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

/** Nodes whose `image` input names an input file (replaced by the runner with the uploaded name). */
export const IMAGE_INPUT_NODE_TYPES: ReadonlySet<string> = new Set(["LoadImage", "LoadImageMask"]);

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

export type ImageInputValue =
  | { node_id: string; kind: "url"; url: string }
  | { node_id: string; kind: "data"; url: string }
  | { node_id: string; kind: "file"; file_id: string };

/** The `image` inputs of LoadImage-like nodes, classified. Plain file names are refused: they would read the GPU host's files. */
export function imageInputs(workflow: Workflow): ImageInputValue[] {
  const out: ImageInputValue[] = [];
  for (const [id, node] of Object.entries(workflow)) {
    if (!IMAGE_INPUT_NODE_TYPES.has(node.class_type)) continue;
    const value = node.inputs.image;
    if (isLink(value)) continue;
    if (typeof value !== "string" || value === "") {
      throw new ApiError(400, "invalid_request", `Node ${id} (${node.class_type}) needs 'image' as a string.`, {
        param: param(id, "image"),
      });
    }
    if (/^https?:/i.test(value)) out.push({ node_id: id, kind: "url", url: value });
    else if (/^data:/i.test(value)) out.push({ node_id: id, kind: "data", url: value });
    else if (value.startsWith("file:")) {
      const fileId = value.slice(5);
      if (!/^file_[0-9A-Za-z]{16}$/.test(fileId)) {
        throw new ApiError(
          422,
          "unknown_file",
          `Node ${id}: '${value.slice(0, 80)}' is not a file id from POST /v1/files.`,
          { param: param(id, "image") },
        );
      }
      out.push({ node_id: id, kind: "file", file_id: fileId });
    } else {
      throw new ApiError(
        422,
        "invalid_input",
        `Node ${id} (${node.class_type}): give 'image' as an https:// URL, a data:image/... URL or file:<id> from POST /v1/files; plain file names on the GPU host are not allowed.`,
        { param: param(id, "image") },
      );
    }
  }
  return out;
}
