import { describe, expect, it } from "vitest";
import { exchanges, recording } from "../../test/recordings.ts";
import { executionError, NodeErrors, partialPromptError, promptRejectionError } from "./errors.ts";

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
    expect((error.details as { traceback: string[] }).traceback.length).toBeLessThanOrEqual(5);
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
