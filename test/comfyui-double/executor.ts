/**
 * execution.PromptExecutor.execute_async + execute(): caches keyed by input signature (outputs, ui) and by
 * (node id, class) (objects), the per-prompt message order of the recordings (execution_start, execution_cached,
 * per node progress_state/executing/[progress]/[executed]/progress_state, execution_success | _error |
 * _interrupted), interrupt checks before each node body and inside progress updates, and history results.
 */

import type { FileStore } from "./files.ts";
import { ExecutionList, nodeSignature, type Prompt } from "./graph.ts";
import { framePreview, isImage, isMask, tensorRepr } from "./images.ts";
import type { NodeClass, NodeContext, SavedFile } from "./nodes.ts";
import { EXECUTE_TRACEBACK, PyError, pyRepr } from "./py.ts";
import { BinaryEventTypes, type Hub } from "./ws.ts";

export class Interrupted extends Error {}
/** The double was killed (die/close): abandon everything silently. */
export class Dead extends Error {}

export interface Fault {
  message: string;
  type?: string;
  /** how many more executions fail (Infinity = until cleared) */
  remaining: number;
}

export interface ExecutorHost {
  registry: Map<string, NodeClass>;
  files: FileStore;
  hub: Hub;
  /** nodes.interrupt_processing flag */
  interrupt: { flag: boolean };
  nodeDelayMs(classType: string): number;
  takeFault(classType: string): Fault | undefined;
  sleep(ms: number): Promise<void>;
  saved(file: SavedFile): void;
  random(): number;
}

interface UiEntry {
  meta: { node_id: string; display_node: string; parent_node: null; real_node_id: string };
  output: Record<string, unknown[]>;
}

interface ProgressEntry {
  value: number;
  max: number;
  state: "running" | "finished";
}

export interface HistoryResult {
  outputs: Record<string, unknown>;
  meta: Record<string, unknown>;
}

function formatValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return v;
  if (isImage(v) || isMask(v)) return tensorRepr(v);
  if (typeof v === "object" && (v as { kind?: unknown }).kind === "opaque") {
    return `<${(v as { type: string }).type} object>`;
  }
  return pyRepr(v);
}

export class PromptExecutor {
  private outputsCache = new Map<string, unknown[]>();
  private uiCache = new Map<string, UiEntry>();
  private objects = new Map<string, Record<string, unknown>>();
  statusMessages: Array<[string, Record<string, unknown>]> = [];
  success = true;
  historyResult: HistoryResult = { outputs: {}, meta: {} };

  private readonly host: ExecutorHost;

  constructor(host: ExecutorHost) {
    this.host = host;
  }

  private addMessage(event: string, data: Record<string, unknown>, broadcast: boolean): void {
    const withTs = { ...data, timestamp: Date.now() };
    this.statusMessages.push([event, withTs]);
    const hub = this.host.hub;
    if (hub.clientId !== null || broadcast) hub.send(event, withTs, hub.clientId);
  }

  async execute(prompt: Prompt, promptId: string, extraData: Record<string, unknown>, executeOutputs: string[]) {
    const { hub, registry } = this.host;
    this.host.interrupt.flag = false;
    hub.clientId = Object.hasOwn(extraData, "client_id") ? (extraData.client_id as string | null) : null;
    this.statusMessages = [];
    this.success = true;
    this.addMessage("execution_start", { prompt_id: promptId }, false);

    // IsChangedCache + set_prompt + clean_unused
    const isChanged = new Map<string, unknown>();
    const changed = (id: string): unknown => {
      if (!isChanged.has(id)) {
        const node = prompt[id];
        const cls = node ? registry.get(node.class_type) : undefined;
        isChanged.set(id, cls?.isChanged ? cls.isChanged(node?.inputs ?? {}) : false);
      }
      return isChanged.get(id);
    };
    const sigs = new Map<string, string>();
    for (const id of Object.keys(prompt)) sigs.set(id, nodeSignature(prompt, id, registry, changed));
    const sig = (id: string): string => sigs.get(id) ?? `missing:${id}`;
    const liveSigs = new Set(sigs.values());
    for (const k of [...this.outputsCache.keys()]) if (!liveSigs.has(k)) this.outputsCache.delete(k);
    for (const k of [...this.uiCache.keys()]) if (!liveSigs.has(k)) this.uiCache.delete(k);
    const liveObjects = new Set(Object.entries(prompt).map(([id, n]) => `${id}\u0000${n.class_type}`));
    for (const k of [...this.objects.keys()]) if (!liveObjects.has(k)) this.objects.delete(k);

    const cachedNodes = Object.keys(prompt).filter((id) => this.outputsCache.has(sig(id)));
    this.addMessage("execution_cached", { nodes: cachedNodes, prompt_id: promptId }, false);

    const progress = new Map<string, ProgressEntry>();
    const sendProgressState = (): void => {
      const nodes: Record<string, unknown> = {};
      for (const [id, e] of progress) {
        nodes[id] = {
          value: e.value,
          max: e.max,
          state: e.state,
          node_id: id,
          prompt_id: promptId,
          display_node_id: id,
          parent_node_id: null,
          real_node_id: id,
        };
      }
      hub.send("progress_state", { prompt_id: promptId, nodes }, hub.clientId);
    };
    const entry = (id: string): ProgressEntry => {
      let e = progress.get(id);
      if (e === undefined) {
        e = { value: 0, max: 1, state: "running" };
        progress.set(id, e);
      }
      return e;
    };
    const finishProgress = (id: string): void => {
      const e = entry(id);
      e.state = "finished";
      e.value = e.max;
      sendProgressState();
    };

    const executed: string[] = [];
    const currentOutputs = Object.keys(prompt);
    const list = new ExecutionList(prompt, registry, (id) => this.outputsCache.has(sig(id)));
    for (const o of executeOutputs) list.addNode(o);

    let failed = false;
    while (!list.isEmpty()) {
      const nodeId = list.stage();
      if (nodeId === undefined) break;
      const node = prompt[nodeId] as Prompt[string];
      const cls = registry.get(node.class_type) as NodeClass;
      const nodeSig = sig(nodeId);

      const cached = this.outputsCache.get(nodeSig);
      if (cached !== undefined) {
        if (hub.clientId !== null) {
          const ui = this.uiCache.get(nodeSig);
          hub.send(
            "executed",
            { node: nodeId, display_node: nodeId, output: ui?.output ?? null, prompt_id: promptId },
            hub.clientId,
          );
        }
        finishProgress(nodeId);
        list.complete();
        continue;
      }

      const e = entry(nodeId);
      e.state = "running";
      e.value = 0;
      e.max = 1;
      sendProgressState();

      // get_input_data
      const inputs: Record<string, unknown> = {};
      const classInputs = cls.inputTypes();
      const declared = new Set([
        ...Object.keys(classInputs.required ?? {}),
        ...Object.keys(classInputs.optional ?? {}),
      ]);
      for (const [name, value] of Object.entries(node.inputs ?? {})) {
        if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string") {
          const upstream = this.outputsCache.get(sig(value[0]));
          inputs[name] = upstream?.[Number(value[1])] ?? null;
        } else if (declared.has(name)) inputs[name] = value;
      }
      for (const [name, kind] of Object.entries(classInputs.hidden ?? {})) {
        if (kind === "PROMPT") inputs[name] = prompt;
        else if (kind === "EXTRA_PNGINFO") inputs[name] = extraData.extra_pnginfo ?? null;
        else if (kind === "UNIQUE_ID") inputs[name] = nodeId;
      }

      if (hub.clientId !== null) {
        hub.lastNodeId = nodeId;
        hub.send("executing", { node: nodeId, display_node: nodeId, prompt_id: promptId }, hub.clientId);
      }
      const objectKey = `${nodeId}\u0000${node.class_type}`;
      let instance = this.objects.get(objectKey);
      if (instance === undefined) {
        instance = {};
        this.objects.set(objectKey, instance);
      }

      const checkInterrupt = (): void => {
        if (this.host.interrupt.flag) {
          this.host.interrupt.flag = false;
          throw new Interrupted();
        }
      };
      const delay = this.host.nodeDelayMs(node.class_type);
      const ctx: NodeContext = {
        nodeId,
        promptId,
        signature: nodeSig,
        extraData,
        files: this.host.files,
        instance,
        random: () => this.host.random(),
        saved: (f) => this.host.saved(f),
        work: (fraction = 1) => this.host.sleep(delay * fraction),
        progressText: (text) => {
          const id = Buffer.from(nodeId, "utf8");
          const len = Buffer.alloc(4);
          len.writeUInt32BE(id.length);
          hub.sendBytes(BinaryEventTypes.TEXT, Buffer.concat([len, id, Buffer.from(text, "utf8")]), null);
        },
        progress: async (value, total, preview) => {
          checkInterrupt();
          const pe = entry(nodeId);
          pe.state = "running";
          pe.value = value;
          pe.max = total;
          sendProgressState();
          const format = preview?.format ?? "png";
          const png = preview ? await framePreview(preview.image, preview.index, format) : undefined;
          const metadataClient = hub.supportsFeature(hub.clientId, "supports_preview_metadata");
          if (png && metadataClient) {
            hub.sendPreviewWithMetadata(
              png,
              format,
              {
                node_id: nodeId,
                prompt_id: promptId,
                display_node_id: nodeId,
                parent_node_id: null,
                real_node_id: nodeId,
              },
              hub.clientId,
            );
          }
          hub.send("progress", { value, max: total, prompt_id: promptId, node: nodeId }, hub.clientId);
          if (png && !metadataClient) hub.sendPreview(png, format, hub.clientId);
        },
      };

      try {
        checkInterrupt(); // before_node_execution
        const fault = this.host.takeFault(node.class_type);
        if (fault !== undefined) {
          await ctx.work();
          throw new PyError(fault.type ?? "Exception", fault.message);
        }
        const result = await cls.run(ctx, inputs);
        if (result.ui !== undefined && Object.keys(result.ui).length > 0) {
          this.uiCache.set(nodeSig, {
            meta: { node_id: nodeId, display_node: nodeId, parent_node: null, real_node_id: nodeId },
            output: result.ui,
          });
          if (hub.clientId !== null) {
            hub.send(
              "executed",
              { node: nodeId, display_node: nodeId, output: result.ui, prompt_id: promptId },
              hub.clientId,
            );
          }
        }
        this.outputsCache.set(nodeSig, result.outputs);
      } catch (ex) {
        if (ex instanceof Dead) throw ex;
        failed = true;
        this.success = false;
        if (ex instanceof Interrupted) {
          this.addMessage(
            "execution_interrupted",
            { prompt_id: promptId, node_id: nodeId, node_type: node.class_type, executed: [...executed] },
            true,
          );
        } else {
          const err = ex instanceof PyError ? ex : new PyError(ex instanceof Error ? ex.name : "Exception", String(ex));
          const currentInputs: Record<string, unknown> = {};
          for (const [name, v] of Object.entries(inputs)) currentInputs[name] = [formatValue(v)];
          this.addMessage(
            "execution_error",
            {
              prompt_id: promptId,
              node_id: nodeId,
              node_type: node.class_type,
              executed: [...executed],
              exception_message: `${err.message}\n`,
              exception_type: err.pyType,
              traceback: err.traceback ?? EXECUTE_TRACEBACK,
              current_inputs: currentInputs,
              current_outputs: currentOutputs,
            },
            false,
          );
        }
        break;
      }
      finishProgress(nodeId);
      executed.push(nodeId);
      list.complete();
    }
    if (!failed) this.addMessage("execution_success", { prompt_id: promptId }, false);

    const outputs: Record<string, unknown> = {};
    const meta: Record<string, unknown> = {};
    for (const id of Object.keys(prompt)) {
      const ui = this.uiCache.get(sig(id));
      if (ui !== undefined) {
        outputs[id] = ui.output;
        meta[id] = ui.meta;
      }
    }
    this.historyResult = { outputs, meta };
    hub.lastNodeId = null;
  }
}
