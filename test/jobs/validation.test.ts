/** Every malformed workflow gets 400 (shape) or 422 (meaning), naming the node in `param`. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, ensurePool, TRIVIAL_WORKFLOW, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

const PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/** The start of what ComfyUI's "Save" writes (UI format), trimmed. */
const UI_WORKFLOW = {
  last_node_id: 9,
  last_link_id: 9,
  nodes: [
    {
      id: 9,
      type: "SaveImage",
      pos: [1451, 189],
      size: [210, 58],
      inputs: [{ name: "images", type: "IMAGE", link: 9 }],
      widgets_values: ["ComfyUI"],
    },
  ],
  links: [[9, 8, 0, 9, 0, "IMAGE"]],
  groups: [],
  config: {},
  extra: {},
  version: 0.4,
};

describe("job submit validation", () => {
  let stack: Stack;
  let call: ReturnType<typeof api>;
  beforeAll(async () => {
    stack = await startStack();
    await ensurePool(stack, "local");
    call = api(stack, (await tenantWithKey(stack)).key);
  }, 60_000);
  afterAll(() => stack?.close());

  const cases: Array<[string, unknown, number, string, string | null]> = [
    ["workflow missing", {}, 400, "invalid_request", "workflow"],
    ["workflow not an object", { workflow: [1] }, 400, "invalid_request", "workflow"],
    ["empty workflow", { workflow: {} }, 400, "invalid_request", "workflow"],
    [
      "bad node id",
      { workflow: { "a b": { class_type: "SaveImage", inputs: {} } } },
      400,
      "invalid_request",
      "workflow.a b",
    ],
    ["class_type missing", { workflow: { "7": { inputs: {} } } }, 400, "invalid_request", "workflow.7.class_type"],
    [
      "class_type not a string",
      { workflow: { "7": { class_type: 3, inputs: {} } } },
      400,
      "invalid_request",
      "workflow.7.class_type",
    ],
    ["inputs missing", { workflow: { "7": { class_type: "SaveImage" } } }, 400, "invalid_request", "workflow.7.inputs"],
    [
      "link to a missing node",
      {
        workflow: {
          ...TRIVIAL_WORKFLOW,
          "7": { class_type: "CLIPTextEncode", inputs: { text: "x", clip: ["99", 1] } },
        },
      },
      422,
      "invalid_workflow",
      "workflow.7.inputs.clip",
    ],
    [
      "cycle",
      {
        workflow: {
          "1": { class_type: "ImageInvert", inputs: { image: ["2", 0] } },
          "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
          "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "x" } },
        },
      },
      422,
      "workflow_cycle",
      null,
    ],
    [
      "self link",
      { workflow: { "1": { class_type: "SaveImage", inputs: { images: ["1", 0] } } } },
      422,
      "workflow_cycle",
      "workflow.1.inputs.images",
    ],
    [
      "no output node",
      { workflow: { "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } } } },
      422,
      "no_output_node",
      "workflow",
    ],
    ["unknown pool", { workflow: TRIVIAL_WORKFLOW, pool: "nowhere" }, 422, "unknown_pool", "pool"],
    [
      "LoadImage with a plain file name",
      { workflow: { ...TRIVIAL_WORKFLOW, "5": { class_type: "LoadImage", inputs: { image: "example.png" } } } },
      422,
      "invalid_input",
      "workflow.5.inputs.image",
    ],
    [
      "LoadImage with a private URL",
      {
        workflow: {
          ...TRIVIAL_WORKFLOW,
          "5": { class_type: "LoadImage", inputs: { image: "https://169.254.169.254/latest" } },
        },
      },
      422,
      "unsafe_url",
      "workflow.5.inputs.image",
    ],
    [
      "LoadImage with an unknown file",
      {
        workflow: {
          ...TRIVIAL_WORKFLOW,
          "5": { class_type: "LoadImage", inputs: { image: "file:file_0123456789abcdef" } },
        },
      },
      422,
      "unknown_file",
      "workflow.5.inputs.image",
    ],
    [
      "LoadImage with a non-image data URL",
      {
        workflow: {
          ...TRIVIAL_WORKFLOW,
          "5": { class_type: "LoadImage", inputs: { image: "data:text/html;base64,PGh0bWw+" } },
        },
      },
      422,
      "unsafe_url",
      "workflow.5.inputs.image",
    ],
    ...[
      "file:///etc/passwd",
      "file:/etc/passwd",
      "ftp://example.com/a.png",
      "gopher://example.com/_x",
      "javascript:alert(1)",
      "blob:https://example.com/0b2e0ad4-3b6d-4b1a-9f0e-4b1fb5d9f3a1",
    ].map((image): [string, unknown, number, string, string] => [
      `LoadImage with the URL scheme of ${image.slice(0, 12)}`,
      { workflow: { ...TRIVIAL_WORKFLOW, "5": { class_type: "LoadImage", inputs: { image } } } },
      422,
      "unsafe_url",
      "workflow.5.inputs.image",
    ]),
    ["a workflow in ComfyUI's UI format", { workflow: UI_WORKFLOW }, 400, "ui_format_workflow", "workflow"],
    ["a UI-format workflow as the whole body", UI_WORKFLOW, 400, "ui_format_workflow", null],
    ["a bare API-format workflow without the wrapper", TRIVIAL_WORKFLOW, 400, "invalid_request", "workflow"],
    [
      "unsafe webhook",
      { workflow: TRIVIAL_WORKFLOW, webhook: { url: "http://127.0.0.1/hook" } },
      422,
      "unsafe_url",
      "webhook.url",
    ],
    ["unknown top-level field", { workflow: TRIVIAL_WORKFLOW, priority: 1 }, 400, "invalid_request", "priority"],
    [
      "bad output format",
      { workflow: TRIVIAL_WORKFLOW, output: { format: "bmp" } },
      400,
      "invalid_request",
      "output.format",
    ],
  ];

  for (const [name, body, status, code, param] of cases) {
    it(`${name} -> ${status} ${code}`, async () => {
      const res = await call("/v1/jobs", { body });
      expect(res.status, JSON.stringify(res.json)).toBe(status);
      expect(res.json.error.code).toBe(code);
      if (param !== null) expect(res.json.error.param).toBe(param);
      expect(res.json.error.message.length).toBeGreaterThan(10);
    });
  }

  it("says how to get the API format for a UI-format workflow", async () => {
    const res = await call("/v1/jobs", { body: { workflow: UI_WORKFLOW } });
    expect(res.json.error.message).toContain("Export (API)");
  });

  it("checks files from POST /v1/files like data: images before a job uses them (422 invalid_file)", async () => {
    const upload = async (bytes: Uint8Array<ArrayBuffer>, contentType: string) => {
      const file = (await call("/v1/files", { body: { content_type: "image/png" } })).json;
      const put = await fetch(file.upload_url, {
        method: "PUT",
        body: bytes,
        headers: { "content-type": contentType },
      });
      expect(put.status).toBe(200);
      return `file:${file.id}`;
    };
    const submit = (image: string) =>
      call("/v1/jobs", {
        body: { workflow: { ...TRIVIAL_WORKFLOW, "5": { class_type: "LoadImage", inputs: { image } } } },
      });
    const png = Uint8Array.from(Buffer.from(PNG_BASE64, "base64"));
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]);
    const html = new TextEncoder().encode("<html><script>alert(1)</script></html>");
    const cases: Array<[Uint8Array<ArrayBuffer>, string, string]> = [
      [html, "image/png", "is not an image of type image/png, image/jpeg, image/webp or image/gif"],
      [html, "text/html", "is not an image of type"],
      [png, "text/html", "was uploaded as text/html, not as an image"],
      [jpeg, "image/png", "was uploaded as image/png but its bytes are image/jpeg"],
    ];
    for (const [bytes, type, message] of cases) {
      const res = await submit(await upload(bytes, type));
      expect(res.status, JSON.stringify(res.json)).toBe(422);
      expect(res.json.error.code).toBe("invalid_file");
      expect(res.json.error.param).toBe("workflow.5.inputs.image");
      expect(res.json.error.message).toContain(message);
    }
    const ok = await submit(await upload(png, "image/png"));
    expect(ok.status, JSON.stringify(ok.json)).toBe(202);
  });

  it("names the node of a cycle", async () => {
    const res = await call("/v1/jobs", { body: cases.find((c) => c[0] === "cycle")![1] });
    expect(res.json.error.param).toMatch(/^workflow\.[12]\.inputs\.image$/);
  });

  it("413 for bodies over 16 MiB", async () => {
    const res = await fetch(`${stack.url}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${(await tenantWithKey(stack)).key}`, "content-type": "application/json" },
      body: JSON.stringify({ workflow: TRIVIAL_WORKFLOW, metadata: { x: "a".repeat(17 * 1024 * 1024) } }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
  });
});
