/**
 * Replays a recording's HTTP exchanges against the double, in order, and compares every answer with the recorded
 * one (prompt ids mapped, timestamps zeroed, tracebacks not compared); POST /prompt waits for the prompt to end
 * on the websocket of its client_id, like the recorder did. Also compares websocket transcripts message by message.
 */
import { expect } from "vitest";
import {
  compact as compactOf,
  type HttpResult,
  hex,
  http,
  normalize,
  type Recording,
  type TimelineEntry,
  type WsClient,
  type WsMessage,
} from "./helpers.ts";

export interface ReplayContext {
  base: string;
  /** recorded socket name -> its clientId and client */
  sockets: Map<string, { sid: string; client: WsClient }>;
  /** recorded prompt id -> double's prompt id */
  ids: Map<string, string>;
  /** builds the request body for exchanges that were not recorded as JSON (uploads) */
  formFor?(entry: TimelineEntry): FormData;
}

const BLANK = new Set(["traceback"]);

export function norm(value: unknown, ids: Map<string, string>): unknown {
  return blank(normalize(value, ids));
}

/** A queue item / history `prompt`: [number, prompt_id, prompt, extra_data, outputs]. */
function isQueueItem(v: unknown[]): boolean {
  return v.length === 5 && typeof v[0] === "number" && typeof v[1] === "string" && typeof v[3] === "object";
}

function blank(value: unknown): unknown {
  if (Array.isArray(value) && isQueueItem(value)) {
    // ComfyUI 0.33 adds extra_data.create_time (ms), which the 0.3.64 recordings lack
    const [n, id, prompt, extra, outputs] = value.map(blank);
    return [n, id, prompt, { ...(extra as object), create_time: "<time>" }, outputs];
  }
  if (Array.isArray(value)) return value.map(blank);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // "executed" is list(set) in ComfyUI: its order is arbitrary
      out[k] = BLANK.has(k) ? "<traceback>" : k === "executed" && Array.isArray(v) ? [...v].sort() : blank(v);
    }
    return out;
  }
  return value;
}

function mapPath(path: string, ids: Map<string, string>): string {
  let p = path;
  for (const [from, to] of ids) p = p.replaceAll(from, to);
  return p;
}

export async function replayExchange(ctx: ReplayContext, entry: TimelineEntry): Promise<HttpResult> {
  const req = entry.request as NonNullable<TimelineEntry["request"]>;
  const recorded = entry.response as NonNullable<TimelineEntry["response"]>;
  const label = `${req.method} ${req.path} ${req.note ?? ""}`;
  let body: unknown;
  if (req.json !== undefined) body = req.json;
  else if (req.body_raw !== undefined) body = req.body_raw;
  else if (req.method === "POST" && ctx.formFor) body = ctx.formFor(entry);
  const res = await http(ctx.base, req.method, mapPath(req.path, ctx.ids), body);
  expect(res.status, label).toBe(recorded.status);
  const recordedType = recorded.headers["Content-Type"];
  if (recordedType !== undefined) expect(res.headers.get("content-type"), label).toBe(recordedType);
  else expect(res.headers.get("content-type"), label).toBeNull();
  const disposition = recorded.headers["Content-Disposition"];
  if (disposition !== undefined) expect(res.headers.get("content-disposition"), label).toBe(disposition);

  const rb = recorded.body;
  if (req.method === "POST" && req.path === "/prompt" && recorded.status === 200) {
    const recordedId = (rb as { prompt_id: string }).prompt_id;
    const actualId = (res.json as { prompt_id: string }).prompt_id;
    ctx.ids.set(recordedId, actualId);
  }
  if (typeof rb === "string") {
    expect(res.text, label).toBe(rb);
  } else if (rb !== null && typeof rb === "object" && "sha256" in rb && "head_hex" in rb) {
    const headHex = (rb as { head_hex: string }).head_hex;
    expect(res.bytes.length === 0, label).toBe((rb as unknown as { bytes: number }).bytes === 0);
    if (headHex.startsWith("89504e47"))
      expect(hex(res.bytes, 16), label).toBe(headHex); // PNG + IHDR
    else if (headHex.startsWith("52494646")) {
      expect(hex(res.bytes, 4), label).toBe("52494646"); // RIFF
      expect(hex(res.bytes.subarray(8), 4), label).toBe("57454250"); // WEBP
    }
  } else if (rb !== undefined) {
    expect(norm(res.json, ctx.ids), label).toEqual(norm(rb, ctx.ids));
  }
  if (req.method === "POST" && req.path === "/prompt" && recorded.status === 200) {
    const clientId = (req.json as { client_id?: string }).client_id;
    const socket = [...ctx.sockets.values()].find((s) => s.sid === clientId);
    if (socket !== undefined) await socket.client.waitForPromptEnd((res.json as { prompt_id: string }).prompt_id);
  }
  return res;
}

/** Every recorded frame of a socket vs the double's, in order (text: data field for field; binary: decoded fields). */
export function expectTranscript(rec: Recording, socket: string, client: WsClient, ids: Map<string, string>): void {
  const recorded = rec.timeline.filter((e) => e.kind === "ws_recv" && e.ws === socket);
  expect(client.messages.length, `${socket} frame count`).toBe(recorded.length);
  recorded.forEach((e, i) => {
    expectFrame(e, client.messages[i] as WsMessage, ids, `${socket}[${i}]`);
  });
}

export function expectFrame(e: TimelineEntry, m: WsMessage, ids: Map<string, string>, label: string): void {
  if (e.frame === "binary") {
    expect(m.kind, label).toBe("binary");
    if (m.kind !== "binary") return;
    expect(m.eventType, label).toBe(e.event_type);
    const d = e.decoded ?? {};
    const view = new DataView(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
    if (e.event_type === 1) {
      expect(view.getUint32(4), label).toBe(d.image_format === "PNG" ? 2 : 1);
      expect(hex(m.bytes.subarray(8), 8), label).toBe(d.image_magic_hex);
    } else if (e.event_type === 3) {
      const idLen = view.getUint32(4);
      expect(Buffer.from(m.bytes.subarray(8, 8 + idLen)).toString(), label).toBe(d.node_id);
      expect(Buffer.from(m.bytes.subarray(8 + idLen)).toString(), label).toBe(d.text);
      expect(m.bytes.length, label).toBe(e.len);
    } else if (e.event_type === 4) {
      const metaLen = view.getUint32(4);
      const meta = JSON.parse(Buffer.from(m.bytes.subarray(8, 8 + metaLen)).toString()) as unknown;
      expect(norm(meta, ids), label).toEqual(norm(d.metadata, ids));
      expect(hex(m.bytes.subarray(8 + metaLen), 8), label).toBe(d.image_magic_hex);
      expect(hex(m.bytes, 4), label).toBe((e.head_hex as string).slice(0, 8)); // same event type
    }
    return;
  }
  expect(m.kind, label).toBe("text");
  if (m.kind !== "text" || e.msg === undefined) return;
  expect(m.type, label).toBe(e.msg.type);
  const data = { ...m.data };
  const want = { ...e.msg.data };
  if (typeof want.sid === "string" && /^[0-9a-f]{32}$/.test(want.sid)) {
    // server-invented sid: 32 hex chars
    expect(data.sid, label).toMatch(/^[0-9a-f]{32}$/);
    data.sid = want.sid;
  }
  expect(norm(data, ids), label).toEqual(norm(want, ids));
}

/** Indexes of a prompt's frames on one socket: execution_start .. executing {node: null}, `status` left out (its
 * position depends on timing); for prompts without client_id, the frames carrying its prompt_id. */
export function segment(
  frames: Array<{ type?: string; data?: Record<string, unknown> } | undefined>,
  promptId: string,
): number[] {
  const start = frames.findIndex((f) => f?.type === "execution_start" && f.data?.prompt_id === promptId);
  if (start < 0) return frames.flatMap((f, i) => (f?.data?.prompt_id === promptId ? [i] : []));
  const out: number[] = [];
  for (let i = start; i < frames.length; i++) {
    const f = frames[i];
    if (f?.type === "status") continue;
    out.push(i);
    if (f?.type === "executing" && f.data?.node === null && f.data?.prompt_id === promptId) break;
  }
  return out;
}

/** The recorded frames of a socket as {type, data} (binary frames as undefined). */
export function recordedFrames(rec: Recording, socket: string): TimelineEntry[] {
  return rec.timeline.filter((e) => e.kind === "ws_recv" && e.ws === socket);
}

/** Compares one prompt's frames (see segment) between the recording and the double. */
export function expectSegment(
  rec: Recording,
  socket: string,
  recordedId: string,
  client: WsClient,
  ids: Map<string, string>,
): void {
  const recorded = recordedFrames(rec, socket);
  const want = segment(
    recorded.map((e) => e.msg),
    recordedId,
  );
  const actualFrames = client.messages.map((m) => (m.kind === "text" ? { type: m.type, data: m.data } : undefined));
  const got = segment(actualFrames, ids.get(recordedId) ?? recordedId);
  expect(want.length, `recorded frames of ${recordedId}`).toBeGreaterThan(0);
  expect(
    got.map((i) => compactOf(client.messages[i] as WsMessage)),
    `${socket} ${recordedId}`,
  ).toEqual(want.map((i) => compactRecorded(recorded[i] as TimelineEntry)));
  want.forEach((ri, k) => {
    expectFrame(
      recorded[ri] as TimelineEntry,
      client.messages[got[k] as number] as WsMessage,
      ids,
      `${socket} ${recordedId}[${k}]`,
    );
  });
}

/** The status queue_remaining values seen on a socket, in order. */
export function statusValues(frames: Array<{ type?: string; data?: Record<string, unknown> } | undefined>): number[] {
  return frames.flatMap((f) =>
    f?.type === "status"
      ? [
          (f.data?.status as { exec_info: { queue_remaining: number } } | undefined)?.exec_info
            .queue_remaining as number,
        ]
      : [],
  );
}

function compactRecorded(e: TimelineEntry): string {
  if (e.frame === "binary") return `<binary event_type=${e.event_type}>`;
  const msg = e.msg as { type: string; data: Record<string, unknown> };
  return compactOf({ kind: "text", type: msg.type, data: msg.data, raw: "" });
}
