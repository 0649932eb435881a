/**
 * Conformance with recording 04: every invalid POST /prompt gets 0.33's recorded status, content type and body (the
 * same JSON, field for field), the partially valid prompt gets 200 + node_errors and runs only its valid output. Then the
 * validation rules that were not recorded but follow from the same code (max, floats, bad links, conversions...).
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { http, httpExchanges, loadRecording, recordedSequence, skipNumbers, WsClient } from "./helpers.ts";
import { type ComfyDouble, startComfyDouble } from "./index.ts";
import { expectTranscript, norm, type ReplayContext, replayExchange } from "./replay.ts";

let double: ComfyDouble | undefined;
const clients: WsClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await double?.close();
  double = undefined;
});

const rec = loadRecording("04_validation_errors");
/** The real ComfyUI 0.33's answers to 04's refused prompts (4 of 16 differ from 0.3.64's: missing_node_type,
 * dependency_cycle). */
const ANSWERS_033 = JSON.parse(
  readFileSync(new URL("./fixtures/validation_errors_v0.33.json", import.meta.url), "utf8"),
).answers as Record<string, { status: number; content_type: string; body: string }>;

describe("04 validation errors", () => {
  it("replays all 16 invalid bodies and the partially valid prompt with the recorded answers and transcript", async () => {
    double = await startComfyDouble();
    await skipNumbers(double.url, 5); // the partially valid prompt was number 17 after 12 invalid posts
    // the recorded server already had proto_invalid_00001_.png in output/ (its answer names file 00002)
    const form = new FormData();
    form.append("image", new Blob([new Uint8Array(8)]), "proto_invalid_00001_.png");
    form.append("type", "output");
    expect((await http(double.url, "POST", "/upload/image", form)).status).toBe(200);
    const client = await WsClient.open(double.url, "rec-invalid-60ca5ad5");
    clients.push(client);
    await client.waitFor((m) => m.kind === "text" && m.type === "status");
    const ctx: ReplayContext = {
      base: double.url,
      sockets: new Map([["rec-invalid-60ca5ad5", { sid: "rec-invalid-60ca5ad5", client }]]),
      ids: new Map(),
    };
    for (const e of httpExchanges(rec)) {
      const answer = ANSWERS_033[e.request?.note ?? ""];
      if (answer !== undefined) {
        // the recorded request, answered as 0.33 does: same status and type, the same JSON (or text)
        const res = await http(double.url, "POST", "/prompt", e.request?.json ?? e.request?.body_raw);
        const label = e.request?.note;
        expect([res.status, res.headers.get("content-type")], label).toEqual([answer.status, answer.content_type]);
        if (answer.body.includes("traceback"))
          expect(norm(res.json, ctx.ids)).toEqual(norm(JSON.parse(answer.body), ctx.ids));
        else if (answer.content_type.startsWith("application/json"))
          expect(res.json, label).toEqual(JSON.parse(answer.body));
        else expect(res.text, label).toBe(answer.body);
        continue;
      }
      await replayExchange(ctx, e);
    }
    expect(client.compact()).toEqual(recordedSequence(rec, "rec-invalid-60ca5ad5"));
    expectTranscript(rec, "rec-invalid-60ca5ad5", client, ctx.ids);
    // only output 3 ran: one file, and node 5's output was never queued
    expect(double.outputs().map((o) => o.filename)).toEqual(["proto_invalid_00002_.png"]);
    const history = Object.values(double.history());
    expect(history.map((h) => h.prompt[4])).toEqual([["3"]]);
  });
});

async function post(d: ComfyDouble, prompt: unknown, extra: Record<string, unknown> = {}) {
  return http(d.url, "POST", "/prompt", { prompt, ...extra });
}

const image = (over: Record<string, unknown> = {}) => ({
  class_type: "EmptyImage",
  inputs: { width: 8, height: 8, batch_size: 1, color: 0, ...over },
});
const save = (from: string, prefix = "v") => ({
  class_type: "SaveImage",
  inputs: { images: [from, 0], filename_prefix: prefix },
});

describe("validation rules beyond the recorded cases (same code paths)", () => {
  it("value above max, FLOAT formatting, bad linked input and the output-level KeyError", async () => {
    double = await startComfyDouble();
    const big = await post(double, { "1": image({ width: 20000 }), "2": save("1") });
    expect(big.status).toBe(400);
    expect((big.json as { node_errors: Record<string, { errors: unknown[] }> }).node_errors["1"]?.errors).toEqual([
      {
        type: "value_bigger_than_max",
        message: "Value 20000 bigger than max of 16384",
        details: "width",
        extra_info: {
          input_name: "width",
          input_config: ["INT", { default: 512, min: 1, max: 16384, step: 1 }],
          received_value: 20000,
        },
      },
    ]);
    const mask = await post(double, {
      "1": { class_type: "SolidMask", inputs: { value: -0.5, width: 8, height: 8 } },
      "2": { class_type: "MaskToImage", inputs: { mask: ["1", 0] } },
      "3": save("2"),
    });
    const maskErr = (mask.json as { node_errors: Record<string, { errors: Array<{ message: string }> }> }).node_errors;
    expect(maskErr["1"]?.errors[0]?.message).toBe("Value -0.5 smaller than min of 0.0");
    expect(maskErr["1"]?.errors[0]).toMatchObject({ type: "value_smaller_than_min" });

    const bad = await post(double, {
      "1": image(),
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0, 1], filename_prefix: "x" } },
    });
    expect((bad.json as { node_errors: Record<string, { errors: unknown[] }> }).node_errors["2"]?.errors).toEqual([
      {
        type: "bad_linked_input",
        message: "Bad linked input, must be a length-2 list of [node_id, slot_index]",
        details: "images",
        extra_info: {
          input_name: "images",
          input_config: ["IMAGE", { tooltip: "The images to save." }],
          received_value: ["1", 0, 1],
        },
      },
    ]);
    const missing = await post(double, { "1": image(), "2": save("9") });
    expect(missing.json).toMatchObject({
      error: { type: "prompt_outputs_failed_validation", details: "Exception when validating node: '9'" },
      node_errors: {
        "2": {
          errors: [{ type: "exception_during_validation", details: "'9'", extra_info: { exception_type: "KeyError" } }],
          dependent_outputs: ["2"],
          class_type: "SaveImage",
        },
      },
    });
  });

  it("converts literals like Python (int('12'), __value__ unwrap) and queues the converted prompt", async () => {
    double = await startComfyDouble();
    const c = await WsClient.open(double.url, "conv");
    clients.push(c);
    const res = await post(
      double,
      { "1": image({ width: "12", height: { __value__: 7.9 } }), "2": save("1", "conv") },
      { client_id: "conv" },
    );
    expect(res.status).toBe(200);
    const id = (res.json as { prompt_id: string }).prompt_id;
    await c.waitForPromptEnd(id);
    const entry = double.history()[id];
    expect(
      (entry?.prompt[2] as Record<string, { inputs: Record<string, unknown> }> | undefined)?.["1"]?.inputs,
    ).toMatchObject({
      width: 12,
      height: 7,
    });
    const wrongFloat = await post(double, {
      "1": { class_type: "ImageBlur", inputs: { image: ["2", 0], blur_radius: 1, sigma: "x" } },
      "2": image(),
      "3": save("1"),
    });
    expect(
      (wrongFloat.json as { node_errors: Record<string, { errors: Array<Record<string, unknown>> }> }).node_errors["1"]
        ?.errors[0],
    ).toMatchObject({
      type: "invalid_input_type",
      details: "sigma, x, could not convert string to float: 'x'",
    });
  });

  it("no_prompt, prompt_no_outputs for [] and {}, 500 for non-object nodes, and the number counter", async () => {
    double = await startComfyDouble();
    const noPrompt = await http(double.url, "POST", "/prompt", { client_id: "x" });
    expect([noPrompt.status, (noPrompt.json as { error: { type: string } }).error.type]).toEqual([400, "no_prompt"]);
    const emptyList = await post(double, []);
    expect((emptyList.json as { error: { type: string } }).error.type).toBe("prompt_no_outputs");
    const nodeNumber = await post(double, { "1": 5 });
    expect([nodeNumber.status, nodeNumber.text]).toEqual([
      500,
      "500 Internal Server Error\n\nServer got itself in trouble",
    ]);
    const nodeString = await post(double, { "1": "abc" }); // 0.33: a 500 (0.3.64: invalid_prompt)
    expect(nodeString.status).toBe(500);
    // 4 POSTs without "number" so far (each one counted, valid or not); the next valid one is number 4
    const ok = await post(double, { "1": image(), "2": save("1") });
    expect((ok.json as { number: number }).number).toBe(4);
    const front = await post(double, { "1": image({ color: 5 }), "2": save("1") }, { front: true });
    expect((front.json as { number: number }).number).toBe(-5);
    const explicit = await post(
      double,
      { "1": image({ color: 6 }), "2": save("1") },
      { number: "7.25", prompt_id: 42 },
    );
    expect(explicit.json).toEqual({ prompt_id: "42", number: 7.25, node_errors: {} });
    const malformedNumber = await post(double, { "1": image(), "2": save("1") }, { number: "abc" });
    expect(malformedNumber.status).toBe(500);
  });

  it("partial_execution_targets restricts the outputs; all-invalid targets give prompt_no_outputs", async () => {
    double = await startComfyDouble();
    const prompt = { "1": image(), "2": save("1", "a"), "3": save("1", "b") };
    const only3 = await post(double, prompt, { partial_execution_targets: ["3"] });
    expect(only3.status).toBe(200);
    const id = (only3.json as { prompt_id: string }).prompt_id;
    const queue = await http(double.url, "GET", "/queue");
    const items = [
      ...(queue.json as { queue_running: unknown[][]; queue_pending: unknown[][] }).queue_running,
      ...(queue.json as { queue_pending: unknown[][] }).queue_pending,
    ];
    const mine = items.find((i) => i[1] === id);
    if (mine !== undefined) expect(mine[4]).toEqual(["3"]);
    const none = await post(double, prompt, { partial_execution_targets: ["1"] });
    expect((none.json as { error: { type: string } }).error.type).toBe("prompt_no_outputs");
  });

  it("dependent_outputs lists every output blocked by an invalid node; return_type_mismatch in details", async () => {
    double = await startComfyDouble();
    const res = await post(double, { "1": image({ width: 0 }), "2": save("1", "a"), "3": save("1", "b") });
    expect(res.json).toEqual({
      error: {
        type: "prompt_outputs_failed_validation",
        message: "Prompt outputs failed validation",
        details: "",
        extra_info: {},
      },
      node_errors: {
        "1": {
          errors: [
            {
              type: "value_smaller_than_min",
              message: "Value 0 smaller than min of 1",
              details: "width",
              extra_info: {
                input_name: "width",
                input_config: ["INT", { default: 512, min: 1, max: 16384, step: 1 }],
                received_value: 0,
              },
            },
          ],
          dependent_outputs: ["2", "3"],
          class_type: "EmptyImage",
        },
      },
    });
  });
});
