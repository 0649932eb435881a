/**
 * ComfyUI's websocket frames (`/ws?clientId=...`), as recorded from the real server
 * (../shared/comfyui-protocol/README.md). Text frames are `{"type", "data"}` parsed with a zod discriminated
 * union; types this runner does not know (custom nodes send their own) are kept as `unknown`, never cast.
 * Binary frames start with a 4-byte big-endian event type.
 */
import { z } from "zod";

const PromptId = z.string().min(1);
const NodeId = z.string();

export const StatusMessage = z.object({
  type: z.literal("status"),
  data: z.looseObject({
    status: z.looseObject({ exec_info: z.looseObject({ queue_remaining: z.number() }) }).nullish(),
    sid: z.string().nullish(),
  }),
});

export const ExecutionStartMessage = z.object({
  type: z.literal("execution_start"),
  data: z.looseObject({ prompt_id: PromptId, timestamp: z.number().optional() }),
});

export const ExecutionCachedMessage = z.object({
  type: z.literal("execution_cached"),
  data: z.looseObject({ prompt_id: PromptId, nodes: z.array(NodeId), timestamp: z.number().optional() }),
});

export const ExecutingMessage = z.object({
  type: z.literal("executing"),
  data: z.looseObject({
    node: NodeId.nullable(),
    display_node: NodeId.nullish(),
    prompt_id: PromptId.nullish(),
  }),
});

export const ProgressMessage = z.object({
  type: z.literal("progress"),
  data: z.looseObject({
    value: z.number(),
    max: z.number(),
    prompt_id: PromptId.nullish(),
    node: NodeId.nullish(),
  }),
});

export const ProgressStateMessage = z.object({
  type: z.literal("progress_state"),
  // Per-node entries are not used by the runner; kept unparsed (the frame grows with every node).
  data: z.looseObject({ prompt_id: PromptId, nodes: z.record(z.string(), z.unknown()) }),
});

export const ExecutedMessage = z.object({
  type: z.literal("executed"),
  data: z.looseObject({
    node: NodeId,
    display_node: NodeId.nullish(),
    output: z.record(z.string(), z.unknown()).nullish(),
    prompt_id: PromptId,
  }),
});

export const ExecutionSuccessMessage = z.object({
  type: z.literal("execution_success"),
  data: z.looseObject({ prompt_id: PromptId, timestamp: z.number().optional() }),
});

export const ExecutionErrorMessage = z.object({
  type: z.literal("execution_error"),
  data: z.looseObject({
    prompt_id: PromptId,
    node_id: NodeId.nullish(),
    node_type: z.string().nullish(),
    executed: z.array(NodeId).optional(),
    exception_message: z.string().nullish(),
    exception_type: z.string().nullish(),
    traceback: z.array(z.string()).nullish(),
    current_inputs: z.unknown().optional(),
    current_outputs: z.unknown().optional(),
    timestamp: z.number().optional(),
  }),
});

export const ExecutionInterruptedMessage = z.object({
  type: z.literal("execution_interrupted"),
  data: z.looseObject({
    prompt_id: PromptId,
    node_id: NodeId.nullish(),
    node_type: z.string().nullish(),
    executed: z.array(NodeId).optional(),
    timestamp: z.number().optional(),
  }),
});

export const FeatureFlagsMessage = z.object({
  type: z.literal("feature_flags"),
  data: z.record(z.string(), z.unknown()),
});

export const KnownMessage = z.discriminatedUnion("type", [
  StatusMessage,
  ExecutionStartMessage,
  ExecutionCachedMessage,
  ExecutingMessage,
  ProgressMessage,
  ProgressStateMessage,
  ExecutedMessage,
  ExecutionSuccessMessage,
  ExecutionErrorMessage,
  ExecutionInterruptedMessage,
  FeatureFlagsMessage,
]);
export type KnownMessage = z.infer<typeof KnownMessage>;

export const KNOWN_TYPES: ReadonlySet<string> = new Set(KnownMessage.options.map((o) => o.shape.type.value));

const Envelope = z.object({ type: z.string(), data: z.unknown().optional() });

/** A frame of a type this runner does not handle (e.g. a custom node's `crystools.monitor`). */
export interface UnknownMessage {
  type: "unknown";
  rawType: string;
  data: unknown;
}

/** A frame that is not `{type, data}` JSON, or a known type whose data has an unexpected shape. */
export interface InvalidMessage {
  type: "invalid";
  rawType: string | null;
  problem: string;
}

export type ComfyMessage = KnownMessage | UnknownMessage | InvalidMessage;

export function parseTextFrame(text: string): ComfyMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { type: "invalid", rawType: null, problem: "not JSON" };
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) return { type: "invalid", rawType: null, problem: "not a {type, data} object" };
  const rawType = envelope.data.type;
  if (!KNOWN_TYPES.has(rawType)) return { type: "unknown", rawType, data: envelope.data.data };
  const known = KnownMessage.safeParse(json);
  if (!known.success) {
    const issue = known.error.issues[0];
    return {
      type: "invalid",
      rawType,
      problem: issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid",
    };
  }
  return known.data;
}

/** The prompt a message belongs to, when it names one. */
export function promptIdOf(message: ComfyMessage): string | null {
  switch (message.type) {
    case "execution_start":
    case "execution_cached":
    case "progress_state":
    case "executed":
    case "execution_success":
    case "execution_error":
    case "execution_interrupted":
      return message.data.prompt_id;
    case "executing":
    case "progress":
      return message.data.prompt_id ?? null;
    default:
      return null;
  }
}

// ---- binary frames ----------------------------------------------------------------------------------

export const BINARY_PREVIEW_IMAGE = 1;
export const BINARY_UNENCODED_PREVIEW_IMAGE = 2;
export const BINARY_TEXT = 3;
export const BINARY_PREVIEW_IMAGE_WITH_METADATA = 4;

export const PreviewMetadata = z.looseObject({
  node_id: z.string().nullish(),
  prompt_id: z.string().nullish(),
  display_node_id: z.string().nullish(),
  parent_node_id: z.string().nullish(),
  real_node_id: z.string().nullish(),
  image_type: z.string().nullish(),
});
export type PreviewMetadata = z.infer<typeof PreviewMetadata>;

export type BinaryFrame =
  | { type: "preview_image"; format: "jpeg" | "png" | "unknown"; image: Uint8Array }
  | { type: "progress_text"; nodeId: string; text: string }
  | { type: "preview_image_with_metadata"; metadata: PreviewMetadata | null; image: Uint8Array }
  | { type: "unknown"; eventType: number; payload: Uint8Array }
  | { type: "invalid"; problem: string };

const utf8 = new TextDecoder("utf-8", { fatal: false });

export function decodeBinaryFrame(input: ArrayBuffer | Uint8Array): BinaryFrame {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.byteLength < 4) return { type: "invalid", problem: `binary frame of ${bytes.byteLength} bytes` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eventType = view.getUint32(0, false);
  switch (eventType) {
    case BINARY_PREVIEW_IMAGE: {
      if (bytes.byteLength < 8) return { type: "invalid", problem: "preview frame without an image format" };
      const code = view.getUint32(4, false);
      return {
        type: "preview_image",
        format: code === 1 ? "jpeg" : code === 2 ? "png" : "unknown",
        image: bytes.subarray(8),
      };
    }
    case BINARY_TEXT: {
      if (bytes.byteLength < 8) return { type: "invalid", problem: "text frame without a node id length" };
      const length = view.getUint32(4, false);
      if (8 + length > bytes.byteLength) return { type: "invalid", problem: "text frame node id runs past the end" };
      return {
        type: "progress_text",
        nodeId: utf8.decode(bytes.subarray(8, 8 + length)),
        text: utf8.decode(bytes.subarray(8 + length)),
      };
    }
    case BINARY_PREVIEW_IMAGE_WITH_METADATA: {
      if (bytes.byteLength < 8) return { type: "invalid", problem: "preview frame without a metadata length" };
      const length = view.getUint32(4, false);
      if (8 + length > bytes.byteLength) return { type: "invalid", problem: "preview metadata runs past the end" };
      let metadata: PreviewMetadata | null = null;
      try {
        const parsed = PreviewMetadata.safeParse(JSON.parse(utf8.decode(bytes.subarray(8, 8 + length))));
        metadata = parsed.success ? parsed.data : null;
      } catch {
        metadata = null;
      }
      return { type: "preview_image_with_metadata", metadata, image: bytes.subarray(8 + length) };
    }
    default:
      return { type: "unknown", eventType, payload: bytes.subarray(4) };
  }
}
