/**
 * Live sampler previews (pure): which of ComfyUI's binary preview frames belong to the running prompt, and a
 * throttle that lets at most one frame per `intervalMs` (1 s) through, the latest one winning. The reporter
 * sends what passes (reporter.ts); frames over PREVIEW_MAX_BYTES are dropped there. Best effort throughout.
 */
import { PREVIEW_MAX_BYTES } from "@comfy-edge/shared/contract/runner";
import type { BinaryFrame } from "./comfy/messages.ts";

export { PREVIEW_MAX_BYTES };

export interface PreviewFrame {
  node_id: string | null;
  /** The node's latest progress when the frame came (the step it shows). */
  value?: number;
  max?: number;
  content_type: "image/jpeg" | "image/png" | "image/webp";
  image: Uint8Array;
}

const TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);

/**
 * The preview in `frame`, or null (not a preview, another prompt's, or an unknown format). `currentNode`:
 * the node our prompt is executing; `progress`: its latest progress message.
 */
export function previewOf(
  frame: BinaryFrame,
  promptId: string,
  currentNode: string | null,
  progress: { node_id: string | null; value: number; max: number } | null,
): PreviewFrame | null {
  let nodeId: string | null;
  let type: string;
  if (frame.type === "preview_image") {
    if (frame.format === "unknown") return null;
    nodeId = currentNode;
    type = `image/${frame.format}`;
  } else if (frame.type === "preview_image_with_metadata") {
    if (frame.metadata?.prompt_id && frame.metadata.prompt_id !== promptId) return null;
    nodeId = frame.metadata?.display_node_id ?? frame.metadata?.node_id ?? currentNode;
    type = frame.metadata?.image_type ?? "image/png";
  } else return null;
  if (!TYPES.has(type) || frame.image.byteLength === 0) return null;
  const step = progress && progress.node_id === nodeId ? { value: progress.value, max: progress.max } : {};
  return { node_id: nodeId, ...step, content_type: type as PreviewFrame["content_type"], image: frame.image };
}

/** At most one value per `intervalMs`; a value offered too early is kept (replacing an older kept one). */
export class LatestThrottle<T> {
  private readonly intervalMs: number;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private pending: T | null = null;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** The value to send now, or null (kept until `due()`). */
  offer(value: T, now: number): T | null {
    if (now - this.lastSentAt >= this.intervalMs) {
      this.pending = null;
      this.lastSentAt = now;
      return value;
    }
    this.pending = value;
    return null;
  }

  /** When the kept value may go out (ms timestamp), or null. */
  due(): number | null {
    return this.pending === null ? null : this.lastSentAt + this.intervalMs;
  }

  /** The kept value if its time has come. */
  flush(now: number): T | null {
    if (this.pending === null || now - this.lastSentAt < this.intervalMs) return null;
    const value = this.pending;
    this.pending = null;
    this.lastSentAt = now;
    return value;
  }

  clear(): void {
    this.pending = null;
  }
}
