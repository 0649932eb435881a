import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exchanges, recording } from "../../test/recordings.ts";
import { executionError, NodeErrors, partialPromptError, promptRejectionError } from "./errors.ts";
import { redactHostDetails, tenantError } from "./redact.ts";

const validation = recording("04_validation_errors");
const answer = (note: string) => {
  const found = exchanges(validation, "POST", "/prompt", note);
  expect(found, note).toHaveLength(1);
  return found[0]!.response!;
};

describe("400 from POST /prompt -> the job's error", () => {
  it("names node and input for every recorded per-input error", () => {
    const cases: Array<[string, string, RegExp]> = [
      ["missing required input", "2", /node 2 \(ImageInvert\) input 'image': Required input is missing/],
      ["value below min", "1", /node 1 \(EmptyImage\) input 'width': Value 0 smaller than min of 1/],
      [
        "wrong type",
        "1",
        /node 1 \(EmptyImage\) input 'width': Failed to convert an input value to a INT value: width, abc/,
      ],
      [
        "link to non-existent node 99",
        "2",
        /node 2 \(ImageInvert\) input 'images': Exception when validating inner node/,
      ],
      [
        "link to non-existent output slot",
        "3",
        /node 3 \(SaveImage\): Exception when validating node: tuple index out of range/,
      ],
      [
        "type mismatch",
        "3",
        /node 3 \(SaveImage\) input 'images': Return type mismatch between linked nodes: images, received_type\(MASK\)/,
      ],
      [
        "LoadImage with unknown file",
        "1",
        /node 1 \(LoadImage\) input 'image': Custom validation failed for node: image - Invalid image file: no_such_file.png/,
      ],
    ];
    for (const [note, nodeId, pattern] of cases) {
      const res = answer(note);
      expect(res.status).toBe(400);
      const error = promptRejectionError(res.body, 400);
      expect(error.code, note).toBe("workflow_invalid");
      expect(error.message, note).toMatch(/^ComfyUI refused the workflow: /);
      expect(error.message, note).toMatch(pattern);
      expect(error.node_id, note).toBe(nodeId);
      expect(JSON.stringify(error.details)).not.toContain("traceback");
    }
  });

  it("explains refusals without node errors, naming the node when ComfyUI does", () => {
    const unknown = promptRejectionError(answer("unknown class_type").body, 400);
    expect(unknown.message).toBe(
      "ComfyUI refused the workflow: Cannot execute because node NoSuchNodeClass does not exist. (Node ID '#2')",
    );
    expect(unknown.node_id).toBe("2");
    expect(promptRejectionError(answer("no output node").body, 400).message).toBe(
      "ComfyUI refused the workflow: Prompt has no outputs",
    );
    expect(promptRejectionError(answer("dependency cycle").body, 400).message).toBe(
      "ComfyUI refused the workflow: Prompt outputs failed validation",
    );
    expect(promptRejectionError("<html>", 400)).toEqual({
      code: "workflow_invalid",
      message: "ComfyUI refused the workflow (HTTP 400).",
    });
  });
});

describe("200 with node_errors (only some outputs would run)", () => {
  it("fails naming the invalid nodes", () => {
    const res = answer("one valid output + one invalid output");
    expect(res.status).toBe(200);
    const nodeErrors = NodeErrors.parse((res.body as { node_errors: unknown }).node_errors);
    const error = partialPromptError(nodeErrors);
    expect(error).toMatchObject({ code: "workflow_invalid", node_id: "4", node_type: "ImageScale" });
    expect(error.message).toContain("ComfyUI would run only part of the workflow");
    expect(error.message).toContain(
      "node 4 (ImageScale) input 'upscale_method': Value not in list: upscale_method: 'bogus'",
    );
  });
});

describe("execution_error -> the job's error", () => {
  it("carries node id, node type and the exception message", () => {
    const msg = recording("05_execution_error").timeline.find((e) => e.msg?.type === "execution_error")!.msg!;
    const { error, retryable } = executionError(msg.data as Parameters<typeof executionError>[0]);
    expect(retryable).toBe(false);
    expect(error).toMatchObject({ code: "execution_error", node_id: "3", node_type: "SaveImage" });
    expect(error.message).toMatch(
      /^Node 3 \(SaveImage\) failed: Exception: \*\*\*\* ERROR: Saving image outside the output folder is not allowed\./,
    );
  });

  it("gives the tenant node id, node type, exception type and a message without host paths; the traceback only to the log", () => {
    // Recorded from the real ComfyUI 0.33 (CPU harness): ImageBlur(31) on an 8x8 image.
    const real = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../test/fixtures/execution_error_imageblur_v0.33.json"), "utf8"),
    ).data;
    expect(JSON.stringify(real.traceback)).toContain("/root/comfy-harness/venv/lib/python3.11/site-packages");
    const { error, traceback } = executionError(real);
    const seen = tenantError(error);
    expect(seen).toEqual({
      code: "execution_error",
      node_id: "2",
      node_type: "ImageBlur",
      message:
        "Node 2 (ImageBlur) failed: RuntimeError: Argument #4: Padding size should be less than the corresponding input dimension, but got: padding (31, 31) at dimension 3 of input [1, 3, 8, 8]",
      details: {
        exception_type: "RuntimeError",
        exception_message:
          "Argument #4: Padding size should be less than the corresponding input dimension, but got: padding (31, 31) at dimension 3 of input [1, 3, 8, 8]",
        executed: ["1"],
      },
    });
    expect(traceback.join("")).toContain("/root/comfy-harness/ComfyUI/comfy_extras/nodes_post_processing.py");

    // Host paths inside ComfyUI's own message (the recorded SaveImage error, a missing input file).
    const msg = recording("05_execution_error").timeline.find((e) => e.msg?.type === "execution_error")!.msg!;
    const saved = tenantError(executionError(msg.data as Parameters<typeof executionError>[0]).error);
    expect(JSON.stringify(saved)).not.toMatch(/srv\/comfyui|traceback/);
    expect(saved.message).toContain("full_output_folder: <path>");
    const missing = tenantError(
      executionError({
        node_id: "10",
        node_type: "LoadImage",
        exception_type: "FileNotFoundError",
        exception_message: "[Errno 2] No such file or directory: '/home/gpu/ComfyUI/input/comfy-edge/0a1b/n10.png'",
        traceback: ['  File "/home/gpu/.venv/lib/python3.12/site-packages/PIL/Image.py", line 3431, in open\n'],
      }).error,
    );
    expect(missing.message).toBe(
      "Node 10 (LoadImage) failed: FileNotFoundError: [Errno 2] No such file or directory: 'n10.png'",
    );
    expect(JSON.stringify(missing)).not.toMatch(/home|venv|site-packages/);
  });

  it("redacts paths (POSIX, home, Windows), URLs and addresses, and leaves ordinary text alone", () => {
    expect(redactHostDetails("see ~/ComfyUI/custom_nodes/foo/bar.py and C:\\Users\\gpu\\ComfyUI\\x")).toBe(
      "see bar.py and <path>",
    );
    expect(redactHostDetails("ComfyUI at http://10.0.0.5:8188 refused: connect ECONNREFUSED 10.0.0.5:8188")).toBe(
      "ComfyUI at <url> refused: connect ECONNREFUSED <address>",
    );
    const plain = "Value 0 smaller than min of 1; and/or 1/2; POST /prompt; tensor [1, 3, 8, 8]";
    expect(redactHostDetails(plain)).toBe(plain);
  });

  it("lets out-of-memory failures be retried", () => {
    expect(
      executionError({
        node_id: "3",
        node_type: "KSampler",
        exception_type: "torch.OutOfMemoryError",
        exception_message: "CUDA out of memory.",
      }).retryable,
    ).toBe(true);
    expect(executionError({}).error.message).toBe("The workflow failed: Exception: no message");
  });
});
