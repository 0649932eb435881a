/** Wires model assets into the runner (docs/models.md) when COMFYUI_MODELS_DIR is set. */

import type { UrlPolicy } from "@comfy-edge/shared/url-guard";
import type * as PromClient from "prom-client";
import { ComfyClient } from "../comfy/client.ts";
import type { RunnerConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Resolver } from "../net/guarded-fetch.ts";
import type { Transport } from "../net/node-transport.ts";
import { gatewayModelsApi, type ModelsApi } from "./api.ts";
import type { DownloadNet } from "./download.ts";
import { ModelManager } from "./manager.ts";
import { ModelMetrics } from "./metrics.ts";
import { ModelStore } from "./store.ts";
import { UrlModels } from "./url-models.ts";

/** The runner's policy for model URLs: public https hosts; ALLOW_PRIVATE_URLS=true adds loopback and private ones. */
export function modelUrlPolicy(allowPrivate: boolean): UrlPolicy {
  return {
    allowHttp: false,
    allowPrivate,
    allowData: false,
    maxDataBytes: 0,
    allowedPorts: [],
    hostAllowlist: [],
  };
}

/** Test and bench overrides: a resolver, a transport trusting a test CA, a faster poll. */
export interface ModelTuning {
  resolver?: Resolver;
  transport?: Transport;
  pollMs?: number;
  api?: ModelsApi;
}

/** What the runner gives the model runtime: its slots' capability announcement (models/manager.ts). */
export interface ModelHooks {
  announce: (signal: AbortSignal) => Promise<void>;
}

export interface ModelRuntime {
  store: ModelStore;
  manager: ModelManager;
  urlModels: UrlModels;
  beforeLease: (signal: AbortSignal) => Promise<void>;
}

export function openModelStore(config: RunnerConfig): Promise<ModelStore | null> {
  return config.modelsDir === null ? Promise.resolve(null) : ModelStore.open(config.modelsDir);
}

export function createModelRuntime(
  store: ModelStore,
  config: RunnerConfig,
  log: Logger,
  registry: PromClient.Registry,
  hooks: ModelHooks,
  tuning: ModelTuning = {},
): ModelRuntime {
  const metrics = new ModelMetrics(registry);
  const net: DownloadNet = {
    policy: modelUrlPolicy(config.allowPrivateUrls),
    resolver: tuning.resolver,
    transport: tuning.transport,
  };
  const manager = new ModelManager({
    runnerId: config.runnerId,
    api: tuning.api ?? gatewayModelsApi(config.gatewayUrl, config.runnerToken),
    store,
    net,
    comfy: new ComfyClient(config.comfyUrls[0] ?? "http://127.0.0.1:8188"),
    log,
    metrics,
    pollMs: tuning.pollMs,
    announce: hooks.announce,
  });
  const urlModels = new UrlModels({
    store,
    net,
    log,
    metrics,
    cacheBytes: config.modelCacheBytes,
    maxBytes: () => manager.manifest?.url_models?.max_bytes ?? null,
  });
  return { store, manager, urlModels, beforeLease: (signal) => manager.whenLeasable(signal) };
}
