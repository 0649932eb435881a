/**
 * The gateway's size check of model inputs given as URLs (docs/models.md): at submit, a HEAD through the URL
 * guard; a declared Content-Length over the pool's url_models.max_bytes -> 422 model_too_large naming the
 * input. A plain HTTP origin on 127.0.0.1 (the stack runs with ALLOW_PRIVATE_URLS=true) records each request.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ensurePool, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

const MAX = 1000;
/** Declared sizes by path; "nohead" answers HEAD with 405, "redirect" sends HEAD on to /big. */
const sizes = new Map([
  ["/small.safetensors", 600],
  ["/big.safetensors", 5000],
]);
const requests: Array<{ method: string; path: string }> = [];
let origin: Server;
let base: string;
let stack: Stack;
let call: ReturnType<typeof api>;

beforeAll(async () => {
  origin = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    requests.push({ method: req.method ?? "", path });
    if (path === "/nohead.safetensors") return void res.writeHead(405).end();
    if (path === "/redirect.safetensors") return void res.writeHead(302, { location: "/big.safetensors" }).end();
    const size = sizes.get(path);
    if (size === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": size });
    res.end(req.method === "HEAD" ? undefined : Buffer.alloc(size));
  });
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  stack = await startStack({ vars: { ALLOW_PRIVATE_URLS: "true" } });
  await ensurePool(stack, "sized");
  await stack.admin("/admin/v1/pools/sized/manifest", { models: [], url_models: { max_bytes: MAX } }, "PUT");
  const tenant = await tenantWithKey(stack, { default_pool: "sized" });
  await stack.admin(`/admin/v1/tenants/${tenant.id}/model-hosts`, { hosts: ["127.0.0.1"] }, "PUT");
  call = api(stack, tenant.key);
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await new Promise((resolve) => origin?.close(resolve));
});

const withModel = (ckpt: string) => ({
  workflow: {
    ...TRIVIAL_WORKFLOW,
    "90": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: ckpt } },
  },
});
const heads = (path: string) => requests.filter((r) => r.method === "HEAD" && r.path === path).length;

describe("URL model size check at submit", () => {
  it("refuses a file whose server declares more than the pool's max_bytes, naming the input", async () => {
    const res = await call("/v1/jobs", { body: withModel(`${base}/big.safetensors`) });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("model_too_large");
    expect(res.json.error.param).toBe("workflow.90.inputs.ckpt_name");
    expect(res.json.error.message).toContain("5000");
    expect(res.json.error.message).toContain(`${MAX}-byte`);
    expect(res.json.error.message).not.toContain("127.0.0.1");
    // Only HEAD: the gateway never downloads the file.
    expect(requests.filter((r) => r.path === "/big.safetensors").every((r) => r.method === "HEAD")).toBe(true);
  });

  it("accepts a file under the cap and asks its server once for two jobs", async () => {
    const first = await call("/v1/jobs", { body: withModel(`${base}/small.safetensors`) });
    expect(first.status).toBe(202);
    const second = await call("/v1/jobs", { body: withModel(`${base}/small.safetensors`) });
    expect(second.status).toBe(202);
    expect(heads("/small.safetensors")).toBe(1);
  });

  it("follows redirects under the URL guard", async () => {
    const res = await call("/v1/jobs", { body: withModel(`${base}/redirect.safetensors`) });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe("model_too_large");
  });

  it("lets the runner decide when the server states no size (HEAD refused, unknown file)", async () => {
    expect((await call("/v1/jobs", { body: withModel(`${base}/nohead.safetensors`) })).status).toBe(202);
    expect(heads("/nohead.safetensors")).toBe(1);
  });

  it("asks nothing for jobs without URL models", async () => {
    const before = requests.length;
    expect((await call("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } })).status).toBe(202);
    expect(requests.length).toBe(before);
  });
});
