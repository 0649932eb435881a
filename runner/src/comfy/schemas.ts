/**
 * Which node classes take a `filename_prefix`, from ComfyUI's own `/object_info/{class}` (so SaveImage,
 * SaveVideo, SaveAudio and custom nodes' savers are all covered), asked once per class and kept for the
 * slot's life. Lets the runner give such a node its prefix when the client left it out.
 */
import type { Workflow } from "@comfy-edge/shared/contract/jobs";
import type { ComfyClient } from "./client.ts";

export class NodeSchemas {
  private readonly comfy: ComfyClient;
  private readonly known = new Map<string, Promise<boolean>>();

  constructor(comfy: ComfyClient) {
    this.comfy = comfy;
  }

  /** Whether the class has a `filename_prefix` input; a failed lookup answers false and is asked again next time. */
  private takesPrefix(classType: string, signal?: AbortSignal): Promise<boolean> {
    let answer = this.known.get(classType);
    if (!answer) {
      answer = this.comfy.nodeInputs(classType, signal).then((inputs) => inputs?.has("filename_prefix") ?? false);
      this.known.set(classType, answer);
      answer.catch(() => this.known.delete(classType));
    }
    return answer.catch(() => false);
  }

  /** Nodes of the workflow without a `filename_prefix` whose class takes one. */
  async prefixNodes(workflow: Workflow, signal?: AbortSignal): Promise<Set<string>> {
    const missing = Object.entries(workflow).filter(([, node]) => !("filename_prefix" in node.inputs));
    const takes = await Promise.all(missing.map(([, node]) => this.takesPrefix(node.class_type, signal)));
    return new Set(missing.filter((_, i) => takes[i]).map(([id]) => id));
  }
}
