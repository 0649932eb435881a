/**
 * Chat image URLs against a second parser: the gateway forwards only the canonical serialisation of a
 * URL it checked, and refuses one whose raw host part another parser (Python's urlsplit, yarl: what
 * vLLM fetches images with) would read as another host. Through the official `openai` SDK.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePool, TRIVIAL_WORKFLOW } from "../harness/api.ts";
import { forwarded, IMAGE_HOST, type LlmStack, startLlmStack, type Tenant, unique } from "./fixtures.ts";

let s: LlmStack;
let t: Tenant;

beforeAll(async () => {
  s = await startLlmStack();
  t = await s.tenant();
}, 60_000);
afterAll(() => s?.close());

function vision(text: string, url: string) {
  return t.client.chat.completions.create({
    model: "vision-large",
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text },
          { type: "image_url", image_url: { url } },
        ],
      },
    ],
  });
}

async function refusal(text: string, url: string): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await vision(text, url);
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error(`${JSON.stringify(url)} was accepted`);
}

describe("chat image URLs", () => {
  it("refuses a host part other parsers read differently, naming the field and the cause", async () => {
    const cases = [
      { url: `https://${IMAGE_HOST}\\@127.0.0.1:11701/steal.png`, message: "backslash" },
      { url: `https://${IMAGE_HOST}:443\\@169.254.169.254/latest/meta-data/`, message: "backslash" },
      { url: `https:${IMAGE_HOST}/cat.png`, message: "two forward slashes" },
      { url: `https://exa%6dple.com@${IMAGE_HOST}/cat.png`, message: "credentials" },
      { url: ` https://${IMAGE_HOST}/cat.png`, message: "leading or trailing whitespace" },
      { url: `https://${IMAGE_HOST}/cat.png `, message: "leading or trailing whitespace" },
      { url: "https://metadata.goog/computeMetadata/v1/", message: "metadata" },
    ];
    for (const { url, message } of cases) {
      const text = unique("differential");
      const err = await refusal(text, url);
      expect(err).toBeInstanceOf(OpenAI.UnprocessableEntityError);
      expect(err.code).toBe("unsafe_url");
      expect(err.param).toBe("messages[0].content[1].image_url.url");
      expect(err.message).toContain(message);
      expect(forwarded(s.log, text)).toHaveLength(0);
    }
  });

  it("forwards the canonical serialisation of an accepted URL, not the client's spelling", async () => {
    const text = unique("canonical");
    await vision(text, `HTTPS://Images.Example.COM:443/cats/tabby cat.png?size=big one`);
    const [sent] = forwarded(s.log, text);
    const parts = (sent!.body!.messages as { content: { image_url?: { url: string } }[] }[])[0]!.content;
    expect(parts[1]!.image_url!.url).toBe(`https://${IMAGE_HOST}/cats/tabby%20cat.png?size=big%20one`);
  });
});

describe("one URL rule for chat images and job inputs", () => {
  it("refuses surrounding whitespace in both, with the same code and message", async () => {
    await ensurePool(s.stack, "local");
    const both = await s.tenant({}, { scopes: ["llm", "jobs"] });
    const spaced = [` https://${IMAGE_HOST}/a.png`, `https://${IMAGE_HOST}/a.png `, `\thttps://${IMAGE_HOST}/a.png\n`];
    for (const url of spaced) {
      const chat = await fetch(`${s.stack.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${both.key}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "vision-large",
          messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }],
        }),
      });
      const job = await fetch(`${s.stack.url}/v1/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${both.key}`, "content-type": "application/json" },
        body: JSON.stringify({
          workflow: { ...TRIVIAL_WORKFLOW, "5": { class_type: "LoadImage", inputs: { image: url } } },
        }),
      });
      const chatError = ((await chat.json()) as { error: Record<string, unknown> }).error;
      const jobError = ((await job.json()) as { error: Record<string, unknown> }).error;
      expect([chat.status, job.status]).toEqual([422, 422]);
      expect(chatError).toMatchObject({ code: "unsafe_url", param: "messages[0].content[0].image_url.url" });
      expect(jobError).toMatchObject({ code: "unsafe_url", param: "workflow.5.inputs.image" });
      expect(jobError.message).toBe(chatError.message);
      expect(chatError.message).toContain("leading or trailing whitespace");
    }
  });
});
