/**
 * Conformance with recording 08: PreviewImage (temp outputs), GetImageSize (binary TEXT frame, broadcast) and
 * SaveImageWebsocket (`progress` + PREVIEW_IMAGE frames, or PREVIEW_IMAGE_WITH_METADATA before `progress` for a
 * client that sent supports_preview_metadata).
 *
 * ComfyUI orders output nodes by a Python set (random per process: the recording has ["4","3","6"]); the double
 * uses prompt order (["3","4","6"]). So the execution order differs in exactly the way ComfyUI's scheduler
 * dictates, and each node's block of frames is compared with the recorded block of the same node.
 */
import { describe, expect, it } from "vitest";
import {
  http,
  loadRecording,
  pngSize,
  skipNumbers,
  type TimelineEntry,
  useDouble,
  WsClient,
  type WsMessage,
} from "./helpers.ts";
import { expectFrame, norm, recordedFrames } from "./replay.ts";

const { start, clients } = useDouble();

const rec = loadRecording("08_preview_progress_binary_frames");

type Frame = { type?: string; data?: Record<string, unknown>; binary?: number };

/** Splits a prompt's frames into per-node blocks: from the node's first progress_state to its "finished" one. */
function blocks(frames: Frame[]): { order: string[]; byNode: Map<string, number[]>; head: number[]; tail: number[] } {
  const byNode = new Map<string, number[]>();
  const order: string[] = [];
  const head: number[] = [];
  const tail: number[] = [];
  let current: string | undefined;
  frames.forEach((f, i) => {
    if (f.type === "progress_state") {
      const nodes = f.data?.nodes as Record<string, { state: string }>;
      const running = Object.entries(nodes).find(
        ([id, s]) => s.state === "running" && (current === undefined || id === current),
      );
      if (current === undefined && running !== undefined) {
        current = running[0];
        order.push(current);
        byNode.set(current, []);
      }
      byNode.get(current as string)?.push(i);
      if (current !== undefined && nodes[current]?.state === "finished") current = undefined;
      return;
    }
    if (current !== undefined) byNode.get(current)?.push(i);
    else if (order.length === 0) head.push(i);
    else tail.push(i);
  });
  return { order, byNode, head, tail };
}

function describeFrame(f: Frame, node: string): string {
  if (f.binary !== undefined) return `<binary event_type=${f.binary}>`;
  if (f.type === "progress_state") {
    const s = ((f.data?.nodes ?? {}) as Record<string, { state: string; value: number; max: number }>)[node];
    return `progress_state(${node}:${s?.state} ${s?.value}/${s?.max})`;
  }
  if (f.type === "executing" || f.type === "executed" || f.type === "progress")
    return `${f.type}(${String(f.data?.node)})`;
  return String(f.type);
}

function recordedAsFrames(entries: TimelineEntry[]): Frame[] {
  return entries.map((e) =>
    e.frame === "binary" ? { binary: e.event_type } : { type: e.msg?.type, data: e.msg?.data },
  );
}

function actualAsFrames(messages: WsMessage[]): Frame[] {
  return messages.map((m) => (m.kind === "binary" ? { binary: m.eventType } : { type: m.type, data: m.data }));
}

describe("08 previews, progress and binary frames", () => {
  it("plain and feature-flag clients: same per-node frames as recorded, scheduler order for the outputs order", async () => {
    const d = await start();
    await skipNumbers(d.url, 34);
    const ids = new Map<string, string>();
    for (const socket of ["plain_client", "flags_client"] as const) {
      const open = rec.timeline.find((e) => e.kind === "ws_open" && e.ws === socket) as TimelineEntry;
      const clientId = new URL(`http://x${open.path}`).searchParams.get("clientId") as string;
      const first = rec.timeline.find((e) => e.kind === "ws_send" && e.ws === socket)?.msg;
      const client = await WsClient.open(d.url, clientId, first);
      clients.push(client);
      await client.waitFor((m) => m.kind === "text" && m.type === (first ? "feature_flags" : "status"));
      const postEntry = rec.timeline.find(
        (e) =>
          e.kind === "http" &&
          e.request?.path === "/prompt" &&
          (e.request.json as { client_id?: string }).client_id === clientId,
      ) as TimelineEntry;
      const res = await http(d.url, "POST", "/prompt", postEntry.request?.json);
      const recordedId = (postEntry.response?.body as { prompt_id: string } | undefined)?.prompt_id as string;
      const promptId = (res.json as { prompt_id: string }).prompt_id;
      ids.set(recordedId, promptId);
      expect(norm(res.json, ids)).toEqual(norm(postEntry.response?.body, ids));
      await client.waitForPromptEnd(promptId);

      const recorded = recordedFrames(rec, socket);
      const want = blocks(recordedAsFrames(recorded));
      const got = blocks(actualAsFrames(client.messages));
      const history = d.history()[promptId];
      expect(want.order).toEqual(["1", "4", "3", "2", "5", "6"]); // for outputs ["4","3","6"]
      expect(history?.prompt[4]).toEqual(["3", "4", "6"]);
      expect(got.order).toEqual(["1", "3", "4", "2", "5", "6"]); // the same scheduler for ["3","4","6"]

      // PreviewImage names: ComfyUI_temp_<5 random letters>_<counter>_.png, the suffix kept per node object
      for (const m of client.texts().filter((x) => x.type === "executed")) {
        const node = m.data.node as string;
        const images = (m.data.output as { images: Array<{ filename: string }> }).images;
        const recordedExec = recorded.find((e) => e.msg?.type === "executed" && e.msg.data.node === node)?.msg?.data;
        const recordedImages = ((recordedExec?.output ?? { images: [] }) as { images: Array<{ filename: string }> })
          .images;
        images.forEach((img, k) => {
          expect(img.filename).toMatch(/^ComfyUI_temp_[a-z]{5}_\d{5}_\.png$/);
          expect(img.filename.slice(-11)).toBe(recordedImages[k]?.filename.slice(-11));
          ids.set(recordedImages[k]?.filename as string, img.filename);
        });
      }

      expect(got.head.map((i) => describeFrame(actualAsFrames(client.messages)[i] as Frame, ""))).toEqual(
        want.head.map((i) => describeFrame(recordedAsFrames(recorded)[i] as Frame, "")),
      );
      for (const node of want.order) {
        const wf = recordedAsFrames(recorded);
        const gf = actualAsFrames(client.messages);
        const w = want.byNode.get(node) as number[];
        const g = got.byNode.get(node) as number[];
        expect(
          g.map((i) => describeFrame(gf[i] as Frame, node)),
          `node ${node}`,
        ).toEqual(w.map((i) => describeFrame(wf[i] as Frame, node)));
        w.forEach((ri, k) => {
          const r = recorded[ri] as TimelineEntry;
          const m = client.messages[g[k] as number] as WsMessage;
          if (r.msg?.type === "progress_state" && m.kind === "text") {
            const pick = (data: Record<string, unknown>) => (data.nodes as Record<string, unknown>)[node];
            expect(norm(pick(m.data), ids), `node ${node} progress_state`).toEqual(norm(pick(r.msg.data), ids));
          } else expectFrame(r, m, ids, `${socket} node ${node}[${k}]`);
        });
      }
      const tailWant = want.tail.map((i) => recorded[i] as TimelineEntry);
      expect(got.tail.length).toBe(tailWant.length);
      tailWant.forEach((r, k) => {
        expectFrame(r, client.messages[got.tail[k] as number] as WsMessage, ids, `${socket} tail[${k}]`);
      });

      // history: same outputs (temp images of nodes 3 and 6) and messages
      const recordedHistory = rec.timeline.find((e) => e.request?.path === `/history/${recordedId}`)?.response
        ?.body as Record<string, { prompt: unknown[] }>;
      const wantEntry = structuredClone(recordedHistory[recordedId]) as { prompt: unknown[] };
      wantEntry.prompt[4] = ["3", "4", "6"];
      expect(norm(history, ids)).toEqual(norm(wantEntry, ids));

      // the temp files are served by /view?type=temp; both batch items are the same image
      const nextPost = rec.timeline.find(
        (e) => e.kind === "http" && e.request?.path === "/prompt" && e.t_ms > postEntry.t_ms,
      );
      const views = rec.timeline.filter(
        (e) =>
          e.kind === "http" &&
          e.request?.path.startsWith("/view") &&
          e.t_ms > postEntry.t_ms &&
          e.t_ms < (nextPost?.t_ms ?? Number.POSITIVE_INFINITY),
      );
      const bodies: string[] = [];
      for (const v of views) {
        let path = v.request?.path as string;
        for (const [from, to] of ids) path = path.replaceAll(from, to);
        const r = await http(d.url, "GET", path);
        expect([r.status, r.headers.get("content-type")]).toEqual([200, "image/png"]);
        bodies.push(Buffer.from(r.bytes).toString("base64"));
      }
      expect(views.length).toBe(4);
      expect(new Set(bodies).size).toBe(1); // EmptyImage batch of 2 identical frames, scaled identically
    }
  });

  it("progress_text frames are broadcast to every socket (sid None), previews go to the prompt's client only", async () => {
    const d = await start();
    const owner = await WsClient.open(d.url, "owner");
    const other = await WsClient.open(d.url, "other");
    clients.push(owner, other);
    const res = await http(d.url, "POST", "/prompt", {
      prompt: {
        "1": { class_type: "EmptyImage", inputs: { width: 8, height: 4, batch_size: 3, color: 255 } },
        "2": { class_type: "GetImageSize", inputs: { image: ["1", 0] } },
        "3": { class_type: "SaveImageWebsocket", inputs: { images: ["1", 0] } },
        "4": { class_type: "PreviewImage", inputs: { images: ["5", 0] } },
        "5": {
          class_type: "ImageScale",
          inputs: { image: ["1", 0], upscale_method: "area", width: ["2", 1], height: ["2", 0], crop: "disabled" },
        },
      },
      client_id: "owner",
    });
    await owner.waitForPromptEnd((res.json as { prompt_id: string }).prompt_id);
    await other.waitFor(
      (m) =>
        m.kind === "text" &&
        m.type === "status" &&
        (m.data.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining === 0,
      1,
    );
    const text = other.messages.filter((m) => m.kind === "binary");
    expect(text.map((m) => (m.kind === "binary" ? m.eventType : 0))).toEqual([3]);
    expect(other.texts().every((m) => m.type === "status")).toBe(true);
    const previews = owner.messages.filter((m) => m.kind === "binary" && m.eventType === 1);
    expect(previews).toHaveLength(3);
    const progress = owner
      .texts()
      .filter((m) => m.type === "progress")
      .map((m) => [m.data.value, m.data.max]);
    expect(progress).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    const frame = text[0] as Extract<WsMessage, { kind: "binary" }>;
    expect(Buffer.from(frame.bytes.subarray(9)).toString()).toBe("width: 8, height: 4\n batch size: 3");
    // GetImageSize's INT outputs fed ImageScale: the preview is 4x8 (width <- height, height <- width)
    const executed = owner.texts().find((m) => m.type === "executed" && m.data.node === "4");
    const file = (executed?.data.output as { images: Array<{ filename: string }> } | undefined)?.images[0]?.filename;
    const view = await http(d.url, "GET", `/view?filename=${file}&type=temp`);
    expect(pngSize(view.bytes)).toEqual({ width: 4, height: 8 });
  });
});
