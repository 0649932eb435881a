/**
 * Conformance with recordings 06 (interrupt: global, targeted, targeted-but-not-running, idle; /queue delete;
 * observer socket) and 07 (/queue while busy, front:true, caller prompt_id/number/extra_data, no client_id,
 * /queue clear, /history delete/clear; the list, its paging and /free are not served: the runner never asks). The slow ImageBlur nodes of the recordings get a node delay;
 * where the recorded order of `status` against execution frames depends on timing, statuses are compared as their
 * own sequence and each prompt's frames as a block.
 */
import { describe, expect, it } from "vitest";
import { exchange, http, loadRecording, recordedSequence, skipNumbers, useDouble, WsClient } from "./helpers.ts";
import type { ComfyDouble } from "./index.ts";
import { expectSegment, norm, recordedFrames, statusValues } from "./replay.ts";

const { start, clients } = useDouble();

async function open(d: ComfyDouble, clientId: string): Promise<WsClient> {
  const c = await WsClient.open(d.url, clientId);
  clients.push(c);
  await c.waitFor((m) => m.kind === "text" && m.type === "status");
  return c;
}

function frames(c: WsClient) {
  return c.messages.map((m) => (m.kind === "text" ? { type: m.type, data: m.data } : undefined));
}

const executing = (promptId: string, node: string) => (m: WsClient["messages"][number]) =>
  m.kind === "text" && m.type === "executing" && m.data.node === node && m.data.prompt_id === promptId;

describe("06 interrupt", () => {
  const rec = loadRecording("06_interrupt");
  const ids = rec.prompt_ids as { A_interrupted: string; B_after: string; C_deleted: string; D_targeted: string };

  it("global interrupt lets the running node finish, stops before the next; targeted/idle interrupts; queue delete", async () => {
    const d = await start();
    await skipNumbers(d.url, 24);
    d.setNodeDelay("ImageBlur", 400); // the interrupts below must land while a blur runs
    const main = await open(d, "rec-interrupt-d777eb27");
    const observer = await open(d, "rec-observer-b7335e");
    const map = new Map<string, string>();
    const postRecorded = async (recordedId: string): Promise<string> => {
      const e = rec.timeline.find(
        (x) => x.kind === "http" && (x.response?.body as { prompt_id?: string })?.prompt_id === recordedId,
      );
      const res = await http(d.url, "POST", "/prompt", e?.request?.json);
      expect(norm(res.json, map)).toEqual(
        norm({ ...(e?.response?.body as object), prompt_id: (res.json as { prompt_id: string }).prompt_id }, map),
      );
      map.set(recordedId, (res.json as { prompt_id: string }).prompt_id);
      return (res.json as { prompt_id: string }).prompt_id;
    };
    const expectExchange = async (note: string): Promise<void> => {
      const e = exchange(rec, note);
      let path = e.request?.path as string;
      for (const [from, to] of map) path = path.replaceAll(from, to);
      let body = e.request?.json;
      if (body !== undefined)
        body = JSON.parse(
          JSON.stringify(body)
            .replaceAll(ids.B_after, map.get(ids.B_after) ?? "")
            .replaceAll(ids.C_deleted, map.get(ids.C_deleted) ?? "")
            .replaceAll(ids.D_targeted, map.get(ids.D_targeted) ?? ""),
        );
      const res = await http(d.url, e.request?.method as string, path, body);
      expect(res.status, note).toBe(e.response?.status);
      const rb = e.response?.body as { bytes?: number };
      if (rb !== null && typeof rb === "object" && "sha256" in rb) expect(res.text, note).toBe("");
      else expect(norm(res.json, map), note).toEqual(norm(rb, map));
    };

    const a = await postRecorded(ids.A_interrupted);
    await postRecorded(ids.B_after);
    await postRecorded(ids.C_deleted);
    await main.waitFor(executing(a, "101"));
    await expectExchange("A running, B and C pending");
    await expectExchange("delete pending C");
    await expectExchange("after delete");
    await expectExchange("targeted interrupt naming B (pending, not running) -> ignored");
    await expectExchange("global interrupt (empty json body)");
    await main.waitForPromptEnd(map.get(ids.B_after) as string);
    for (const id of [ids.A_interrupted, ids.B_after]) {
      const e = rec.timeline.find((x) => x.request?.path === `/history/${id}`);
      const res = await http(d.url, "GET", `/history/${map.get(id)}`);
      expect(norm(res.json, map), id).toEqual(norm(e?.response?.body, map));
    }
    await expectExchange("deleted prompt C: never ran");

    const dId = await postRecorded(ids.D_targeted);
    await main.waitFor(executing(dId, "100"));
    // targeted interrupt of the running prompt: takes effect when node 101 is about to run
    expect((await http(d.url, "POST", "/interrupt", { prompt_id: dId })).status).toBe(200);
    await main.waitForPromptEnd(dId);
    await expectExchange("interrupt with no body on idle server");

    expect(observer.compact()).toEqual(recordedSequence(rec, "observer"));
    expect(statusValues(frames(main))).toEqual(
      statusValues(recordedFrames(rec, "rec-interrupt-d777eb27").map((e) => e.msg)),
    );
    for (const id of [ids.A_interrupted, ids.B_after, ids.D_targeted])
      expectSegment(rec, "rec-interrupt-d777eb27", id, main, map);

    // the idle interrupt left the flag set; the next prompt resets it at its start and runs normally
    const after = await http(d.url, "POST", "/prompt", {
      prompt: {
        "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 1 } },
        "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "idle" } },
      },
      client_id: "rec-interrupt-d777eb27",
    });
    const afterId = (after.json as { prompt_id: string }).prompt_id;
    await main.waitForPromptEnd(afterId);
    expect(d.history()[afterId]?.status.status_str).toBe("success");
  }, 15_000);
});

describe("07 queue, history, free and clients", () => {
  const rec = loadRecording("07_queue_history_free_and_clients");
  const ids = rec.prompt_ids as Record<
    "A" | "B" | "C_front" | "D_custom_id" | "E_no_client" | "F" | "G_cleared",
    string
  >;

  it("front:true, caller prompt_id/number/extra_data, no client_id, /queue clear, /history delete/clear", async () => {
    const d = await start();
    await skipNumbers(d.url, 28);
    d.setNodeDelay("ImageBlur", 200); // /queue is read while A and F run
    const main = await open(d, "rec-queue-e4ae2ebc");
    const observer = await open(d, "rec-observer2-3b551f");
    const map = new Map<string, string>([[ids.D_custom_id, ids.D_custom_id]]);
    const post = async (recordedId: string): Promise<string> => {
      const e = rec.timeline.find(
        (x) =>
          x.kind === "http" &&
          x.request?.path === "/prompt" &&
          (x.response?.body as { prompt_id?: string })?.prompt_id === recordedId,
      );
      const res = await http(d.url, "POST", "/prompt", e?.request?.json);
      const got = (res.json as { prompt_id: string }).prompt_id;
      map.set(recordedId, got);
      expect(norm(res.json, map), recordedId).toEqual(norm(e?.response?.body, map));
      return got;
    };
    const check = async (note: string): Promise<void> => {
      const e = exchange(rec, note);
      let path = e.request?.path as string;
      for (const [from, to] of map) path = path.replaceAll(from, to);
      let body = e.request?.json;
      if (body !== undefined) {
        let text = JSON.stringify(body);
        for (const [from, to] of map) text = text.replaceAll(from, to);
        body = JSON.parse(text);
      }
      const res = await http(d.url, e.request?.method as string, path, body);
      expect(res.status, note).toBe(e.response?.status);
      const rb = e.response?.body as object;
      if ("sha256" in rb) expect(res.text, note).toBe("");
      else expect(norm(res.json, map), note).toEqual(norm(rb, map));
    };

    const a = await post(ids.A);
    await post(ids.B);
    await main.waitFor(executing(a, "1"));
    await post(ids.C_front);
    await check("A running; B, C pending");
    await main.waitForPromptEnd(map.get(ids.B) as string, 10_000);
    await post(ids.D_custom_id);
    await main.waitForPromptEnd(ids.D_custom_id);
    const statusCount = main.messages.length;
    await post(ids.E_no_client);
    // no execution events for anyone; its progress_state frames are broadcast, then the queue empties
    await main.waitFor(
      (m) =>
        m.kind === "text" &&
        m.type === "status" &&
        (m.data.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining === 0,
      statusCount + 1,
    );
    const f = await post(ids.F);
    await post(ids.G_cleared);
    await check("clear pending (G); running F continues");
    const queue = await http(d.url, "GET", "/queue");
    const recordedQueue = rec.timeline.find(
      (x) => x.request?.path === "/queue" && x.request.method === "GET" && x.t_ms > 6684,
    );
    expect(norm(queue.json, map)).toEqual(norm(recordedQueue?.response?.body, map));
    await main.waitForPromptEnd(f, 10_000);

    await check("delete one history entry");
    await check("/history/76594633-7ed9-41e5-ac6b-e6ff6360b7da");
    await check("clear history");

    expect(observer.compact()).toEqual(recordedSequence(rec, "observer"));
    expect(statusValues(frames(main))).toEqual(
      statusValues(recordedFrames(rec, "rec-queue-e4ae2ebc").map((x) => x.msg)),
    );
    for (const id of [ids.A, ids.C_front, ids.B, ids.D_custom_id, ids.E_no_client, ids.F]) {
      expectSegment(rec, "rec-queue-e4ae2ebc", id, main, map);
    }
  }, 20_000);
});
