import { describe, expect, it } from "vitest";
import { allRecordings, recording } from "../../test/recordings.ts";
import { decodeBinaryFrame, KNOWN_TYPES, parseTextFrame, promptIdOf } from "./messages.ts";

/** json.dumps with Python's default separators, as ComfyUI serialises preview metadata. */
function pyJson(value: Record<string, unknown>): string {
  return `{${Object.entries(value)
    .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(", ")}}`;
}

describe("websocket text frames", () => {
  it("parses every text frame of every recording into a known message", () => {
    let count = 0;
    const seen = new Set<string>();
    for (const rec of allRecordings()) {
      for (const entry of rec.timeline) {
        if (entry.kind !== "ws_recv" || entry.frame !== "text" || !entry.msg) continue;
        const parsed = parseTextFrame(JSON.stringify(entry.msg));
        expect(parsed.type, `${rec.scenario}: ${JSON.stringify(entry.msg).slice(0, 120)}`).toBe(entry.msg.type);
        seen.add(parsed.type);
        count += 1;
      }
    }
    expect(count).toBeGreaterThan(300);
    expect([...seen].sort()).toEqual([...KNOWN_TYPES].sort());
  });

  it("keeps the fields the runner uses", () => {
    const err = recording("05_execution_error").timeline.find((e) => e.msg?.type === "execution_error")!;
    const parsed = parseTextFrame(JSON.stringify(err.msg));
    if (parsed.type !== "execution_error") throw new Error("not an execution_error");
    expect(parsed.data).toMatchObject({ node_id: "3", node_type: "SaveImage", exception_type: "Exception" });
    expect(parsed.data.exception_message).toContain("Saving image outside the output folder is not allowed.");
    expect(promptIdOf(parsed)).toBe(parsed.data.prompt_id);

    const progress = recording("08_preview_progress_binary_frames").timeline.find((e) => e.msg?.type === "progress")!;
    const p = parseTextFrame(JSON.stringify(progress.msg));
    expect(p).toMatchObject({ type: "progress", data: { value: 0, max: 2, node: "4" } });

    const end = parseTextFrame('{"type": "executing", "data": {"node": null, "prompt_id": "p1"}}');
    expect(end).toMatchObject({ type: "executing", data: { node: null } });
    expect(promptIdOf(end)).toBe("p1");

    const status = parseTextFrame(
      '{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "abc"}}',
    );
    expect(status).toMatchObject({ type: "status", data: { sid: "abc" } });
    expect(promptIdOf(status)).toBeNull();
  });

  it("tolerates unknown types explicitly and reports malformed frames", () => {
    expect(parseTextFrame('{"type": "crystools.monitor", "data": {"cpu_utilization": 3}}')).toEqual({
      type: "unknown",
      rawType: "crystools.monitor",
      data: { cpu_utilization: 3 },
    });
    expect(parseTextFrame("not json")).toMatchObject({ type: "invalid", rawType: null });
    expect(parseTextFrame("[1,2]")).toMatchObject({ type: "invalid", rawType: null });
    expect(parseTextFrame('{"type": "execution_success", "data": {"prompt_id": 5}}')).toMatchObject({
      type: "invalid",
      rawType: "execution_success",
    });
  });
});

describe("websocket binary frames (4-byte big-endian type)", () => {
  const rec = recording("08_preview_progress_binary_frames");
  const binaries = rec.timeline.filter((e) => e.kind === "ws_recv" && e.frame === "binary");

  /** Rebuilds a recorded frame: its recorded head, then the decoded parts, padded to the recorded length. */
  function rebuild(entry: (typeof binaries)[number]): Uint8Array {
    const decoded = entry.decoded as Record<string, unknown>;
    const header = (type: number, n: number) => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE(type, 0);
      b.writeUInt32BE(n, 4);
      return b;
    };
    if (entry.event_type === 3) {
      const node = Buffer.from(String(decoded.node_id));
      return Buffer.concat([header(3, node.length), node, Buffer.from(String(decoded.text))]);
    }
    if (entry.event_type === 4) {
      const meta = Buffer.from(pyJson(decoded.metadata as Record<string, unknown>));
      const head = header(4, meta.length);
      const image = Buffer.alloc(entry.len! - 8 - meta.length);
      Buffer.from("89504e470d0a1a0a", "hex").copy(image);
      return Buffer.concat([head, meta, image]);
    }
    const head = Buffer.from(entry.head_hex!, "hex");
    return Buffer.concat([head, Buffer.alloc(entry.len! - head.length)]);
  }

  it("decodes every recorded binary frame", () => {
    expect(binaries.length).toBe(6);
    for (const entry of binaries) {
      const bytes = rebuild(entry);
      expect(bytes.length).toBe(entry.len);
      expect(Buffer.from(bytes.subarray(0, 12)).toString("hex")).toBe(entry.head_hex!.slice(0, 24));
      const frame = decodeBinaryFrame(new Uint8Array(bytes).buffer);
      const decoded = entry.decoded as Record<string, unknown>;
      if (entry.event_type === 1) {
        expect(frame).toMatchObject({ type: "preview_image", format: "png" });
        if (frame.type === "preview_image") expect(frame.image.byteLength).toBe(decoded.image_bytes);
      } else if (entry.event_type === 3) {
        expect(frame).toEqual({ type: "progress_text", nodeId: "2", text: "width: 32, height: 24\n batch size: 2" });
      } else if (entry.event_type === 4) {
        expect(frame).toMatchObject({ type: "preview_image_with_metadata", metadata: decoded.metadata });
        if (frame.type === "preview_image_with_metadata") expect(frame.image.byteLength).toBe(decoded.image_bytes);
      }
    }
  });

  it("reports short, truncated and unknown frames without throwing", () => {
    expect(decodeBinaryFrame(new Uint8Array([0, 0]))).toMatchObject({ type: "invalid" });
    expect(decodeBinaryFrame(new Uint8Array([0, 0, 0, 3, 0, 0, 0, 9, 65]))).toMatchObject({ type: "invalid" });
    expect(decodeBinaryFrame(new Uint8Array([0, 0, 0, 4, 0, 0, 0, 2, 123, 125, 1]))).toMatchObject({
      type: "preview_image_with_metadata",
      metadata: {},
    });
    expect(decodeBinaryFrame(new Uint8Array([0, 0, 0, 9, 1, 2]))).toMatchObject({ type: "unknown", eventType: 9 });
    expect(decodeBinaryFrame(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1, 0xff]))).toMatchObject({
      type: "preview_image",
      format: "jpeg",
    });
  });
});
