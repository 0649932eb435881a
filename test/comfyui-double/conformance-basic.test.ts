/**
 * Conformance with recordings 00 (idle endpoints, ws connect), 01 (basic prompt, /history, /view), 02 (cached
 * re-runs), 03 (/upload/image + LoadImage) and 05 (execution_error): every HTTP answer and every websocket frame is
 * compared with the recorded one, field for field (prompt ids mapped, timestamps and tracebacks ignored).
 */
import sharp from "sharp";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { encodePng } from "./codec.ts";
import {
  exchange,
  http,
  httpExchanges,
  loadRecording,
  pngSize,
  recordedSequence,
  skipNumbers,
  type TimelineEntry,
  WsClient,
} from "./helpers.ts";
import { type ComfyDouble, startComfyDouble } from "./index.ts";
import { TRACEBACKS } from "./py.ts";
import { expectFrame, expectTranscript, type ReplayContext, replayExchange } from "./replay.ts";

let double: ComfyDouble | undefined;
const clients: WsClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await double?.close();
  double = undefined;
});

async function start(): Promise<ComfyDouble> {
  double = await startComfyDouble();
  return double;
}

async function open(d: ComfyDouble, clientId?: string, first?: unknown): Promise<WsClient> {
  const c = await WsClient.open(d.url, clientId, first);
  clients.push(c);
  return c;
}

/** Opens the recording's socket(s) with their clientIds and waits for the initial status. */
async function openRecordedSockets(d: ComfyDouble, rec: ReturnType<typeof loadRecording>): Promise<ReplayContext> {
  const ctx: ReplayContext = { base: d.url, sockets: new Map(), ids: new Map() };
  for (const e of rec.timeline.filter((x) => x.kind === "ws_open")) {
    const sid = new URL(`http://x${e.path}`).searchParams.get("clientId") ?? "";
    const client = await open(d, sid);
    await client.waitFor((m) => m.kind === "text" && m.type === "status");
    ctx.sockets.set(e.ws as string, { sid, client });
  }
  return ctx;
}

describe("00 startup: idle HTTP endpoints and websocket connect", () => {
  const rec = loadRecording("00_startup_http_endpoints");

  it("answers every recorded GET with the recorded status, headers and body", async () => {
    const d = await start();
    const ctx: ReplayContext = { base: d.url, sockets: new Map(), ids: new Map() };
    for (const e of httpExchanges(rec)) {
      // /object_info: body not recorded in 00 (checked below); /system_stats and /models: 0.33 answers (below)
      const path = e.request?.path ?? "";
      if (["/object_info", "/system_stats", "/models"].includes(path) || path.startsWith("/object_info/")) continue;
      await replayExchange(ctx, e);
    }
  });

  it("GET /system_stats and /models answer as the 0.33 harness did (fixtures/server_info_v0.33.json)", async () => {
    const d = await start();
    const fixture = (await import("./fixtures/server_info_v0.33.json", { with: { type: "json" } })).default;
    expect((await http(d.url, "GET", "/system_stats")).json).toEqual(fixture.system_stats);
    expect((await http(d.url, "GET", "/models")).json).toEqual(fixture.models);
  });

  it("GET /object_info serves 0.33's recorded entries, with the input and model file lists live", async () => {
    const d = await start();
    const fixture = (await import("./fixtures/object_info_v0.33.json", { with: { type: "json" } })).default as Record<
      string,
      { input: { required?: Record<string, unknown[]> } }
    >;
    const body = (await http(d.url, "GET", "/object_info")).json as typeof fixture;
    expect(Object.keys(body)).toEqual(Object.keys(fixture));
    for (const [name, entry] of Object.entries(fixture)) {
      if (name === "LoadImage" || /CheckpointLoader/.test(name)) continue;
      expect(body[name], name).toEqual(entry);
    }
    // the combos list the files of input/ and of the models option (both empty here)
    expect(body.LoadImage?.input.required?.image?.[0]).toEqual([]);
    expect(body.CheckpointLoaderSimple?.input.required?.ckpt_name?.[0]).toEqual([]);
    expect({ ...body.LoadImage, input: null }).toEqual({ ...fixture.LoadImage, input: null });
  });

  it("ws without clientId: the server invents a 32-hex sid and reports it in the first status", async () => {
    const d = await start();
    const c = await open(d);
    await c.waitFor(() => true);
    expect(c.compact()).toEqual(recordedSequence(rec, "no_client_id"));
    const recorded = rec.timeline.filter((e) => e.ws === "no_client_id" && e.kind === "ws_recv");
    expectFrame(recorded[0] as TimelineEntry, c.messages[0] as never, new Map(), "status");
  });

  it("ws with the feature_flags first frame gets status then the server's feature flags", async () => {
    const d = await start();
    const c = await open(d, "rec-features", { type: "feature_flags", data: { supports_preview_metadata: true } });
    await c.waitFor((m) => m.kind === "text" && m.type === "feature_flags");
    expect(c.compact()).toEqual(recordedSequence(rec, "with_feature_flags"));
    expectTranscript(rec, "with_feature_flags", c, new Map());
  });
});

describe("01 basic prompt: EmptyImage -> ImageInvert -> SaveImage", () => {
  const rec = loadRecording("01_basic_emptyimage_invert_save");

  it("replays the scenario: same /prompt answer, ws transcript, /queue, /history and /view answers", async () => {
    const d = await start();
    const ctx = await openRecordedSockets(d, rec);
    for (const e of httpExchanges(rec)) await replayExchange(ctx, e);
    const { client } = ctx.sockets.get("rec-basic-7c14a779") as { client: WsClient };
    expect(client.compact()).toEqual(recordedSequence(rec, "rec-basic-7c14a779"));
    expectTranscript(rec, "rec-basic-7c14a779", client, ctx.ids);
  });

  it("writes a real PNG: inverted EmptyImage colour, 64x48, tEXt prompt = the prompt as JSON", async () => {
    const d = await start();
    const post = exchange(rec, "/prompt").request?.json as { prompt: unknown; client_id: string };
    const c = await open(d, post.client_id);
    const res = await http(d.url, "POST", "/prompt", post);
    await c.waitForPromptEnd((res.json as { prompt_id: string }).prompt_id);
    const view = await http(d.url, "GET", "/view?filename=proto_basic_00001_.png&subfolder=&type=output");
    const { data, info } = await sharp(view.bytes).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([64, 48]);
    const color = 1077330; // 0x107052
    expect([...data.subarray(0, 3)]).toEqual([255 - 0x10, 255 - 0x70, 255 - 0x52]);
    const comments = (await sharp(view.bytes).metadata()).comments;
    expect(JSON.parse(comments?.find((c) => c.keyword === "prompt")?.text ?? "")).toEqual(post.prompt);
    expect(color).toBe(0x107052);
    expect(d.outputs().map((o) => [o.filename, o.type, o.subfolder])).toEqual([
      ["proto_basic_00001_.png", "output", ""],
    ]);
    expect(Buffer.from(d.outputs()[0]?.bytes ?? []).equals(Buffer.from(view.bytes))).toBe(true);
  });
});

describe("02 cached re-run", () => {
  const rec = loadRecording("02_cached_rerun");

  it("identical prompt: everything cached, executed re-sent from the UI cache; changed prefix: partial cache", async () => {
    const d = await start();
    await skipNumbers(d.url, 1); // the recorded numbers are 1, 2, 3
    const ctx = await openRecordedSockets(d, rec);
    for (const e of httpExchanges(rec)) await replayExchange(ctx, e);
    const { client } = ctx.sockets.get("rec-cache-2e9ffd40") as { client: WsClient };
    expect(client.compact()).toEqual(recordedSequence(rec, "rec-cache-2e9ffd40"));
    expectTranscript(rec, "rec-cache-2e9ffd40", client, ctx.ids);
    // the cached run wrote no new file
    expect(d.outputs().map((o) => o.filename)).toEqual(["proto_cache_00001_.png", "proto_cache_b_00001_.png"]);
  });
});

/** A 50x40 RGBA test image (alpha varies, so LoadImage builds a mask). */
function testPng(): Promise<Uint8Array> {
  const data = new Uint8Array(50 * 40 * 4);
  for (let i = 0; i < 50 * 40; i++) {
    data[i * 4] = i % 251;
    data[i * 4 + 1] = (i * 7) % 256;
    data[i * 4 + 2] = 200;
    data[i * 4 + 3] = i % 2 === 0 ? 255 : 128;
  }
  return encodePng({ width: 50, height: 40, channels: 4, data });
}

function uploadForm(bytes: Uint8Array, filename: string | undefined, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  if (filename !== undefined) form.append("image", new Blob([Buffer.from(bytes)], { type: "image/png" }), filename);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}

describe("03 upload + LoadImage -> ImageScale -> SaveImage", () => {
  const rec = loadRecording("03_upload_loadimage_scale_save");
  let png: Uint8Array;
  beforeAll(async () => {
    png = await testPng();
  });
  const formFor = (e: TimelineEntry): FormData => {
    switch (e.request?.note) {
      case "multipart image=proto_upload_b824a3.png (2313 bytes png)":
      case "same name + same bytes again (dedupe: same name returned)":
        return uploadForm(png, "proto_upload_b824a3.png");
      case "subfolder=protosub type=input overwrite=true":
        return uploadForm(png, "proto_upload_b824a3.png", { subfolder: "protosub", type: "input", overwrite: "true" });
      case "no image field":
        return uploadForm(png, undefined, { type: "input" });
      case "path traversal in filename":
        // the recorder's client (aiohttp) percent-encodes '/' in multipart filenames
        return uploadForm(png, "..%2F..%2Fevil.png");
      default:
        throw new Error(`unexpected upload ${e.request?.note}`);
    }
  };

  it("replays uploads (names, dedupe, subfolder, 400s), the LoadImage prompts and their ws transcript", async () => {
    const d = await start();
    await skipNumbers(d.url, 4); // recorded numbers 4, 5
    const ctx = { ...(await openRecordedSockets(d, rec)), formFor };
    for (const e of httpExchanges(rec)) await replayExchange(ctx, e);
    const { client } = ctx.sockets.get("rec-upload-142944be") as { client: WsClient };
    expect(client.compact()).toEqual(recordedSequence(rec, "rec-upload-142944be"));
    expectTranscript(rec, "rec-upload-142944be", client, ctx.ids);

    // /view of the uploaded input returns the uploaded bytes; the output is the scaled upload
    const input = await http(d.url, "GET", "/view?filename=proto_upload_b824a3.png&type=input&subfolder=");
    expect(Buffer.from(input.bytes).equals(Buffer.from(png))).toBe(true);
    const out = await http(d.url, "GET", "/view?filename=proto_img2img_00001_.png&type=output");
    expect(pngSize(out.bytes)).toEqual({ width: 80, height: 60 });
    expect(d.uploads().map((u) => [u.name, u.subfolder, u.type])).toEqual([
      ["proto_upload_b824a3.png", "", "input"],
      ["proto_upload_b824a3.png", "", "input"],
      ["proto_upload_b824a3.png", "protosub", "input"],
      ["..%2F..%2Fevil.png", "", "input"],
    ]);
    // LoadImage's combo now lists the top-level input files like the recorded object_info
    const info = await http(d.url, "GET", "/object_info/LoadImage");
    expect((info.json as { LoadImage: { input: unknown } }).LoadImage.input).toEqual({
      required: { image: [["..%2F..%2Fevil.png", "proto_upload_b824a3.png"], { image_upload: true }] },
    });
  });

  it("same name with different bytes becomes 'name (1).png'; a literal '../' filename is refused", async () => {
    const d = await start();
    const a = await http(d.url, "POST", "/upload/image", uploadForm(png, "dup.png"));
    expect(a.json).toEqual({ name: "dup.png", subfolder: "", type: "input" });
    const other = await encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12).fill(9) });
    const b = await http(d.url, "POST", "/upload/image", uploadForm(other, "dup.png"));
    expect(b.json).toEqual({ name: "dup (1).png", subfolder: "", type: "input" });
    const c = await http(d.url, "POST", "/upload/image", uploadForm(other, "dup.png"));
    expect(c.json).toEqual({ name: "dup (1).png", subfolder: "", type: "input" });
    const third = await encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12).fill(1) });
    const e = await http(d.url, "POST", "/upload/image", uploadForm(third, "dup.png"));
    expect(e.json).toEqual({ name: "dup (2).png", subfolder: "", type: "input" });
    const over = await http(d.url, "POST", "/upload/image", uploadForm(third, "dup.png", { overwrite: "1" }));
    expect(over.json).toEqual({ name: "dup.png", subfolder: "", type: "input" });
    const traversal = await http(d.url, "POST", "/upload/image", uploadForm(png, "../../evil.png"));
    expect([traversal.status, traversal.text]).toEqual([400, ""]);
    const badSub = await http(d.url, "POST", "/upload/image", uploadForm(png, "x.png", { subfolder: "../.." }));
    expect(badSub.status).toBe(400);
    const temp = await http(d.url, "POST", "/upload/image", uploadForm(png, "t.png", { type: "temp" }));
    expect(temp.json).toEqual({ name: "t.png", subfolder: "", type: "temp" });
  });
});

describe("05 execution_error", () => {
  // ComfyUI 0.33's message has no "commonpath:" line (checked against the harness; see compare-real.ts)
  const rec = JSON.parse(
    JSON.stringify(loadRecording("05_execution_error")).replaceAll("\\n         commonpath: /srv/comfyui/data", ""),
  ) as ReturnType<typeof loadRecording>;

  it("SaveImage with '../' prefix: execution_error (exact message, inputs, executed), then recovery with cache", async () => {
    const d = await start();
    await skipNumbers(d.url, 22); // recorded numbers 22, 23
    const ctx = await openRecordedSockets(d, rec);
    for (const e of httpExchanges(rec)) await replayExchange(ctx, e);
    const { client } = ctx.sockets.get("rec-execerr-ddba4d36") as { client: WsClient };
    expect(client.compact()).toEqual(recordedSequence(rec, "rec-execerr-ddba4d36"));
    expectTranscript(rec, "rec-execerr-ddba4d36", client, ctx.ids);
    // the traceback text is 0.33's, as recorded from the harness
    const actual = client.texts().find((m) => m.type === "execution_error")?.data.traceback;
    expect(actual).toEqual(TRACEBACKS.save_outside_output);
  });
});
