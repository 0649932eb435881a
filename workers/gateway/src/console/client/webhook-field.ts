/**
 * The Run page's optional webhook: a URL and the events to send (the job submit contract's `webhook: {url,
 * events}`, workers/shared/contract/jobs.ts; the defaults are the API's: every event but job.progress).
 * Folded in a <details> so a plain run stays one click.
 */
import { h } from "./dom.ts";

const EVENTS = ["job.started", "job.progress", "job.succeeded", "job.failed", "job.canceled"] as const;
const DEFAULT_EVENTS = new Set<string>(["job.started", "job.succeeded", "job.failed", "job.canceled"]);

export interface WebhookField {
  el: HTMLElement;
  /** `{url, events}` to send, undefined without a URL; throws a message when a URL has no event chosen. */
  value(): { url: string; events: string[] } | undefined;
}

export function webhookField(): WebhookField {
  const url = h("input", {
    id: "webhook-url",
    name: "webhook-url",
    type: "url",
    inputmode: "url",
    placeholder: "https://example.com/hooks/comfy",
    autocomplete: "off",
  });
  const boxes = EVENTS.map((event) => {
    const box = h("input", {
      id: `webhook-${event.replace(".", "-")}`,
      type: "checkbox",
      value: event,
      checked: DEFAULT_EVENTS.has(event),
    });
    return { event, box, el: h("label", { class: "row" }, box, event) };
  });
  const el = h(
    "details",
    { class: "webhook" },
    h("summary", null, "Webhook (optional)"),
    h(
      "div",
      { class: "field" },
      h("label", { for: "webhook-url" }, "Webhook URL"),
      url,
      h("span", { class: "muted" }, "Signed Standard Webhooks POSTs; deliveries are listed on the job's page."),
    ),
    h(
      "fieldset",
      { class: "webhook-events" },
      h("legend", null, "Events"),
      boxes.map((b) => b.el),
    ),
  );
  return {
    el,
    value() {
      const target = url.value.trim();
      if (target === "") return undefined;
      const events = boxes.filter((b) => b.box.checked).map((b) => b.event);
      if (events.length === 0) throw new Error("Choose at least one webhook event, or clear the webhook URL.");
      return { url: target, events };
    },
  };
}
