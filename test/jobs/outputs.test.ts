/**
 * Job outputs as a browser would get them: the authenticated download and the signed `outputs[].url`
 * never serve a runner-chosen active type (text/html, SVG) from our origins, always carry nosniff, a
 * sandboxing CSP and an RFC 6266 file name, and the download keeps the RateLimit-* headers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ensurePool, runnerToken, ScriptedRunner, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]);
const HTML = new TextEncoder().encode("<html><script>alert(document.domain)</script></html>");
const SVG = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

describe("job outputs", () => {
  let stack: Stack;
  let runner: ScriptedRunner;
  let key: string;
  let job: Record<string, any>;

  beforeAll(async () => {
    stack = await startStack();
    await ensurePool(stack, "local");
    runner = new ScriptedRunner(stack, await runnerToken(stack, "local"));
    key = (await tenantWithKey(stack)).key;
    const submitted = await api(stack, key)("/v1/jobs", { body: { workflow: TRIVIAL_WORKFLOW } });
    const grant = await runner.lease();
    expect(grant?.job.id).toBe(submitted.json.id);
    const leaseId = grant!.lease.id;
    const png = await runner.upload(leaseId, PNG, "out.png", "image/png");
    const html = await runner.upload(leaseId, HTML, "page.html", "text/html");
    const svg = await runner.upload(leaseId, SVG, "x.svg", "image/svg+xml");
    const outputs = [
      { ...png.ref!, filename: 'café "noir".png' },
      html.ref!,
      { ...svg.ref!, content_type: "IMAGE/SVG+XML; charset=utf-8" },
    ];
    const done = await runner.event(leaseId, { type: "succeeded", outputs });
    expect(done.json.status).toBe("succeeded");
    job = (await api(stack, key)(`/v1/jobs/${submitted.json.id}`)).json;
    expect(job.outputs).toHaveLength(3);
  }, 60_000);
  afterAll(() => stack?.close());

  const download = (index: number | string) =>
    fetch(`${stack.url}/v1/jobs/${job.id}/outputs/${index}`, { headers: { authorization: `Bearer ${key}` } });

  it("serves a known image type inline with an RFC 6266 file name, nosniff and a sandboxing CSP", async () => {
    const res = await download(0);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("content-disposition")).toBe(
      `inline; filename="caf_ _noir_.png"; filename*=UTF-8''caf%C3%A9%20%22noir%22.png`,
    );
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG);
  });

  it("serves text/html and SVG as application/octet-stream attachments", async () => {
    for (const [index, bytes, name] of [
      [1, HTML, "page.html"],
      [2, SVG, "x.svg"],
    ] as const) {
      const res = await download(index);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/octet-stream");
      expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${name}"; filename*=UTF-8''${name}`);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; sandbox");
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    }
  });

  it("carries RateLimit-* and x-request-id like every authenticated response", async () => {
    for (const res of [await download(0), await download(7)]) {
      expect(res.headers.get("ratelimit-limit")).toMatch(/^\d+$/);
      expect(res.headers.get("ratelimit-remaining")).toMatch(/^\d+$/);
      expect(res.headers.get("ratelimit-reset")).toMatch(/^\d+$/);
      expect(res.headers.get("x-request-id")).toMatch(/^req_/);
      await res.arrayBuffer();
    }
    const missing = await download(7);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toMatchObject({ code: "output_not_found", param: "index" });
    for (const bad of ["-1", "1e0", "0x1", "01.0"]) expect((await download(bad)).status).toBe(404);
  });

  it("signs the same Content-Type and Content-Disposition overrides into outputs[].url", async () => {
    for (const [index, type, disposition] of [
      [0, "image/png", "inline"],
      [1, "application/octet-stream", "attachment"],
      [2, "application/octet-stream", "attachment"],
    ] as const) {
      const authenticated = await download(index);
      await authenticated.arrayBuffer();
      const url = new URL(job.outputs[index].url);
      expect(url.searchParams.get("response-content-type")).toBe(type);
      expect(url.searchParams.get("response-content-disposition")).toBe(
        authenticated.headers.get("content-disposition"),
      );
      expect(url.searchParams.get("response-content-disposition")).toMatch(new RegExp(`^${disposition}; `));
      const signed = await fetch(url);
      expect(signed.status).toBe(200);
      await signed.arrayBuffer();
      // The overrides are part of the signature: a client cannot switch the type back to text/html.
      url.searchParams.set("response-content-type", "text/html");
      const tampered = await fetch(url);
      expect(tampered.status).toBe(403);
      await tampered.arrayBuffer();
    }
  });
});
