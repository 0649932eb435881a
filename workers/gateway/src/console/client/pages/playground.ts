/**
 * Playground: a chat with the deployment's LLM upstreams (POST /v1/chat/completions, streamed), image
 * attachments by URL (the gateway's URL guard applies), and the cache status (x-cache) of each answer.
 */
import { failure, optional, send } from "../api.ts";
import type { PageContext } from "../context.ts";
import { errorBox, h, page } from "../dom.ts";
import { readBody } from "../sse.ts";

type Part = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };
interface Message {
  role: "user" | "assistant";
  content: string | Part[];
}

export async function playgroundPage(ctx: PageContext): Promise<void> {
  const models = await optional<{ data: Array<{ id: string }> }>(ctx.session, "/v1/models").catch(() => null);
  const history: Message[] = [];
  const modelInput = h("input", { id: "model", list: "models", required: true, value: models?.data[0]?.id ?? "" });
  const datalist = h(
    "datalist",
    { id: "models" },
    (models?.data ?? []).map((m) => h("option", { value: m.id })),
  );
  const prompt = h("textarea", { id: "chat-message", rows: 3, required: true });
  const imageUrl = h("input", { id: "chat-image", type: "url", placeholder: "https://…/image.png" });
  const stream = h("input", { id: "chat-stream", type: "checkbox", checked: true });
  const log = h("ol", { class: "chat", "aria-live": "polite", "aria-label": "Conversation" });
  const send_ = h("button", { type: "submit", class: "primary" }, "Send");

  const ask = async (event: Event) => {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!text) return;
    const content: Message["content"] = imageUrl.value
      ? [
          { type: "text", text },
          { type: "image_url", image_url: { url: imageUrl.value } },
        ]
      : text;
    history.push({ role: "user", content });
    log.append(
      h(
        "li",
        { class: "user" },
        h("strong", null, "You"),
        h("p", null, text),
        imageUrl.value ? h("small", { class: "muted" }, `image: ${imageUrl.value}`) : null,
      ),
    );
    prompt.value = "";
    imageUrl.value = "";
    const answer = h("p");
    const meta = h("small", { class: "muted" });
    const item = h("li", { class: "assistant" }, h("strong", null, "Assistant"), answer, meta);
    log.append(item);
    send_.disabled = true;
    try {
      const res = await send(ctx.session.token, "/v1/chat/completions", {
        body: { model: modelInput.value, messages: history, stream: stream.checked },
        signal: ctx.signal,
      });
      if (!res.ok) throw await failure(res);
      let reply = "";
      if (stream.checked) {
        await readBody(res, (e) => {
          if (e.data === "[DONE]") return;
          const chunk = JSON.parse(e.data) as { choices?: Array<{ delta?: { content?: string } }> };
          reply += chunk.choices?.[0]?.delta?.content ?? "";
          answer.textContent = reply;
        });
      } else {
        const body = (await res.json()) as { choices?: Array<{ message?: { content?: string } }> };
        reply = body.choices?.[0]?.message?.content ?? "";
        answer.textContent = reply;
      }
      history.push({ role: "assistant", content: reply });
      meta.textContent = `cache: ${res.headers.get("x-cache") ?? "—"} · model: ${modelInput.value}`;
      meta.dataset.cache = res.headers.get("x-cache") ?? "";
    } catch (err) {
      history.pop();
      item.replaceWith(errorBox(err));
    } finally {
      send_.disabled = false;
    }
  };

  ctx.root.append(
    page(
      "Playground",
      log,
      h(
        "form",
        { class: "card", onsubmit: (e: Event) => void ask(e) },
        h("div", { class: "field" }, h("label", { for: "model" }, "Model"), modelInput, datalist),
        h("div", { class: "field" }, h("label", { for: "chat-message" }, "Message"), prompt),
        h("div", { class: "field" }, h("label", { for: "chat-image" }, "Image URL (optional)"), imageUrl),
        h("div", { class: "field check" }, stream, h("label", { for: "chat-stream" }, "Stream the answer")),
        send_,
      ),
    ),
  );
}
