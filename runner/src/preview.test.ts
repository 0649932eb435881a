/**
 * Sampler previews: which binary frames are the running prompt's previews, the 1-per-second throttle (latest
 * wins, injected clock), and the reporter's preview lane against a local server standing in for the
 * gateway's events endpoint: frames over the limit dropped, one request in flight, only the newest waiting.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { decodeBinaryFrame } from "./comfy/messages.ts";
import { GatewayClient } from "./gateway.ts";
import { silentLogger } from "./log.ts";
import { LatestThrottle, PREVIEW_MAX_BYTES, type PreviewFrame, previewOf } from "./preview.ts";
import { EventReporter } from "./reporter.ts";

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe("previewOf", () => {
  const progress = { node_id: "3", value: 4, max: 20 };
  it("takes PREVIEW_IMAGE frames (format 1 = JPEG) as the executing node's, with its latest step", () => {
    const frame = decodeBinaryFrame(Buffer.concat([u32(1), u32(1), JPEG]));
    const got = previewOf(frame, "p1", "3", progress);
    expect(got).toMatchObject({ node_id: "3", value: 4, max: 20, content_type: "image/jpeg" });
    expect(Buffer.from(got!.image)).toEqual(JPEG);
    // Another node's progress says nothing about this frame's step.
    expect(previewOf(frame, "p1", "7", progress)).toEqual({
      node_id: "7",
      content_type: "image/jpeg",
      image: got!.image,
    });
  });

  it("takes metadata frames of this prompt only, and ignores text frames and unknown formats", () => {
    const meta = (promptId: string) =>
      decodeBinaryFrame(
        Buffer.concat([
          u32(4),
          u32(Buffer.byteLength(JSON.stringify({ node_id: "3", prompt_id: promptId, image_type: "image/jpeg" }))),
          Buffer.from(JSON.stringify({ node_id: "3", prompt_id: promptId, image_type: "image/jpeg" })),
          JPEG,
        ]),
      );
    expect(previewOf(meta("p1"), "p1", "3", progress)).toMatchObject({ node_id: "3", value: 4, max: 20 });
    expect(previewOf(meta("other"), "p1", "3", progress)).toBeNull();
    expect(previewOf(decodeBinaryFrame(Buffer.concat([u32(1), u32(9), JPEG])), "p1", "3", null)).toBeNull();
    const text = decodeBinaryFrame(Buffer.concat([u32(3), u32(1), Buffer.from("3hello")]));
    expect(previewOf(text, "p1", "3", null)).toBeNull();
  });
});

describe("LatestThrottle (1 per second, latest wins)", () => {
  it("sends the first at once, keeps only the newest of the ones that come too early", () => {
    const t = new LatestThrottle<string>(1000);
    expect(t.offer("a", 10_000)).toBe("a");
    expect(t.offer("b", 10_200)).toBeNull();
    expect(t.offer("c", 10_900)).toBeNull();
    expect(t.due()).toBe(11_000);
    expect(t.flush(10_999)).toBeNull();
    expect(t.flush(11_000)).toBe("c");
    expect(t.due()).toBeNull();
    expect(t.offer("d", 11_500)).toBeNull();
    t.clear();
    expect(t.flush(20_000)).toBeNull();
  });

  it("lets at most one through per second for a stream of 20 frames per second", () => {
    const t = new LatestThrottle<number>(1000);
    const sent: number[] = [];
    for (let ms = 0; ms <= 5000; ms += 50) {
      const now = t.offer(ms, ms) ?? t.flush(ms);
      if (now !== null) sent.push(ms);
    }
    expect(sent).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
  });
});

describe("EventReporter preview lane", () => {
  let server: http.Server;
  let base = "";
  const received: Array<{ type: string; image_b64?: string; value?: number }> = [];
  /** Answers held back until released. */
  const held: Array<() => void> = [];
  let hold = false;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString()));
        const answer = () =>
          res.writeHead(200, { "content-type": "application/json" }).end('{"status":"running","cancel":false}');
        if (hold) held.push(answer);
        else answer();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const frame = (value: number, bytes = 100): PreviewFrame => ({
    node_id: "3",
    value,
    max: 10,
    content_type: "image/jpeg",
    image: new Uint8Array(bytes).fill(value),
  });

  it("drops frames over the limit, keeps one in flight and only the newest waiting; close() never waits for one", async () => {
    received.length = 0;
    let clock = 1_000_000;
    const hooks = { onAck: vi.fn(), onLeaseLost: vi.fn() };
    const gateway = new GatewayClient({ baseUrl: base, token: "rt_test" });
    const reporter = new EventReporter(gateway, "lease1", silentLogger, hooks, { now: () => clock });
    reporter.preview(frame(1, PREVIEW_MAX_BYTES + 1));
    expect(reporter.previewStats.dropped).toBe(1);
    hold = true;
    reporter.preview(frame(2));
    await vi.waitFor(() => expect(received).toHaveLength(1));
    clock += 1000;
    reporter.preview(frame(3)); // passes the throttle, waits behind the one in flight
    clock += 1000;
    reporter.preview(frame(4)); // replaces 3
    clock += 200;
    reporter.preview(frame(5)); // too early: kept by the throttle
    hold = false;
    for (const release of held.splice(0)) release();
    await vi.waitFor(() => expect(received).toHaveLength(2));
    expect(received.map((e) => [e.type, e.value])).toEqual([
      ["preview", 2],
      ["preview", 4],
    ]);
    expect(Buffer.from(received[1]!.image_b64!, "base64")).toEqual(Buffer.from(frame(4).image));
    await vi.waitFor(() => expect(reporter.previewStats.sent).toBe(2));
    // A preview in flight when the job ends: close() does not wait for its answer.
    hold = true;
    clock += 5000;
    reporter.preview(frame(6));
    await vi.waitFor(() => expect(received).toHaveLength(3));
    await reporter.close();
    expect(held).toHaveLength(1);
    hold = false;
    for (const release of held.splice(0)) release();
    expect(reporter.previewStats).toEqual({ sent: 2, dropped: 2 });
    // Nothing goes out after the job's end; an answer that comes late changes nothing.
    reporter.preview(frame(7));
    expect(received).toHaveLength(3);
    expect(hooks.onLeaseLost).not.toHaveBeenCalled();
  });
});
