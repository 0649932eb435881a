import http from "node:http";
import type { AddressInfo } from "node:net";
import { reportDigest } from "@comfy-edge/shared/capabilities/build";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ComfyCapabilities, publishCapabilities } from "./capabilities.ts";
import { silentLogger } from "./log.ts";

/** A ComfyUI stand-in without /models (older servers), whose /object_info can be made to fail. */
describe("ComfyCapabilities", () => {
  let server: http.Server;
  let url: string;
  let failing = false;
  let objectInfoCalls = 0;
  const objectInfo = {
    CheckpointLoaderSimple: { input: { required: { ckpt_name: [["a.safetensors", "b.safetensors"], {}] } } },
    KSampler: { input: { required: { steps: ["INT", { default: 20, min: 1, max: 100 }] } } },
  };
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/object_info") {
        objectInfoCalls += 1;
        res.writeHead(failing ? 500 : 200, { "content-type": "application/json" });
        return res.end(failing ? "{}" : JSON.stringify(objectInfo));
      }
      if (req.url === "/system_stats") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ system: { comfyui_version: "0.33.0" }, devices: [] }));
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server?.close());

  it("builds the report (models from the loaders' combos without /models), keeps it 5 minutes, rebuilds on a new version", async () => {
    let now = 1_000_000;
    const caps = new ComfyCapabilities(url, 1, silentLogger, () => now);
    const digest = await caps.digest("0.33.0");
    const current = caps.current()!;
    expect(digest).toBe(await reportDigest(current.report));
    expect(current.report.models).toEqual({ checkpoints: ["a.safetensors", "b.safetensors"] });
    expect(current.report.node_classes.KSampler!.inputs.steps).toEqual({ type: "INT", min: 1, max: 100 });
    const calls = objectInfoCalls;
    now += 60_000;
    expect(await caps.digest("0.33.0")).toBe(digest);
    expect(objectInfoCalls).toBe(calls);
    await caps.digest("0.34.0");
    expect(objectInfoCalls).toBe(calls + 1);
    now += 5 * 60_000;
    await caps.digest("0.34.0");
    expect(objectInfoCalls).toBe(calls + 2);
  });

  it("when /object_info fails: leases with the last digest (none at first), tries again a minute later", async () => {
    let now = 5_000_000;
    const caps = new ComfyCapabilities(url, 1, silentLogger, () => now);
    failing = true;
    try {
      expect(await caps.digest("0.33.0")).toBeNull();
      const calls = objectInfoCalls;
      now += 30_000;
      expect(await caps.digest("0.33.0")).toBeNull();
      expect(objectInfoCalls).toBe(calls);
      expect(await publishCapabilities(caps, async () => {}, silentLogger)).toBe(false);
    } finally {
      failing = false;
    }
    now += 31_000;
    expect(await caps.digest("0.33.0")).toMatch(/^[0-9a-f]{64}$/);
    const sent: string[] = [];
    expect(await publishCapabilities(caps, async (b) => void sent.push(b.digest), silentLogger)).toBe(true);
    expect(sent).toEqual([caps.current()!.digest]);
  });

  it("after disable() (a gateway that predates capabilities) it leases without a digest", async () => {
    const caps = new ComfyCapabilities(url, 1, silentLogger);
    expect(await caps.digest("0.33.0")).toMatch(/^[0-9a-f]{64}$/);
    caps.disable();
    expect(await caps.digest("0.33.0")).toBeNull();
  });

  it("invalidate(): the next digest() rebuilds the report (new model files show up at once)", async () => {
    const caps = new ComfyCapabilities(url, 1, silentLogger);
    await caps.digest("0.33.0");
    const calls = objectInfoCalls;
    await caps.digest("0.33.0");
    expect(objectInfoCalls).toBe(calls);
    caps.invalidate();
    await caps.digest("0.33.0");
    expect(objectInfoCalls).toBe(calls + 1);
  });

  it("invalidate() while a build is under way: that build does not count as fresh, the next digest() rebuilds", async () => {
    const caps = new ComfyCapabilities(url, 1, silentLogger);
    const calls = objectInfoCalls;
    const building = caps.digest("0.33.0");
    caps.invalidate(); // a model file landed while ComfyUI was being read
    await building;
    expect(objectInfoCalls).toBe(calls + 1);
    await caps.digest("0.33.0");
    expect(objectInfoCalls).toBe(calls + 2);
    await caps.digest("0.33.0");
    expect(objectInfoCalls).toBe(calls + 2);
  });
});
