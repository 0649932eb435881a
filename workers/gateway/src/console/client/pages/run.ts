/**
 * Run: a template by name (where GET /v1/templates exists) or a pasted / uploaded API-format workflow, a
 * form for its inputs, an optional webhook (URL and events), the Run button, then live progress from the job's
 * SSE stream and the outputs.
 */
import { call, optional } from "../api.ts";
import type { PageContext } from "../context.ts";
import { applyInputs, detectInputs } from "../detect.ts";
import { errorBox, fill, h, page, statusBadge, toast } from "../dom.ts";
import { gallery } from "../outputs.ts";
import { progressView } from "../progress.ts";
import { type ObjectSchema, type SchemaForm, schemaForm } from "../schema-form.ts";
import { readEvents } from "../sse.ts";
import { type Job, parseEvent, TERMINAL } from "../types.ts";
import { webhookField } from "../webhook-field.ts";
import { errorView } from "./job.ts";
import { saveTemplateBox } from "./save-template.ts";

interface TemplateSummary {
  name: string;
  description?: string | null;
  version?: number;
}

/** The JSON Schema of a template's inputs, wherever the template answer carries it. */
function inputSchema(t: Record<string, unknown>): ObjectSchema {
  for (const key of ["input_schema", "inputs_schema", "schema", "inputs"]) {
    const v = t[key] as ObjectSchema | undefined;
    if (v && typeof v === "object" && v.properties) return v;
  }
  return { type: "object", properties: {} };
}

export async function runPage(ctx: PageContext): Promise<void> {
  const templates = await optional<{ data: TemplateSummary[] }>(ctx.session, "/v1/templates").catch(() => null);
  const source = h("div");
  const formBox = h("div");
  const result = h("div", { class: "run-result" });
  const message = h("div");
  const runButton = h("button", { type: "submit", class: "primary", disabled: true }, "Run");
  let form: SchemaForm | null = null;
  let submit: (() => Promise<Response>) | null = null;
  const webhook = webhookField();

  const workflowArea = h("textarea", {
    id: "workflow",
    rows: 10,
    class: "mono",
    placeholder: '{"3": {"class_type": "KSampler", "inputs": {…}}, …}',
    spellcheck: false,
  });
  const upload = h("input", { id: "workflow-file", type: "file", accept: ".json,application/json" });
  const useWorkflow = () => {
    fill(message);
    runButton.disabled = true;
    if (workflowArea.value.trim() === "") return fill(formBox);
    let parsed: Record<string, { class_type?: string; inputs?: Record<string, unknown> }>;
    try {
      const value = JSON.parse(workflowArea.value) as Record<string, unknown>;
      parsed = (value.workflow && typeof value.workflow === "object" ? value.workflow : value) as typeof parsed;
    } catch (err) {
      fill(formBox, errorBox(`The workflow is not JSON: ${(err as Error).message}`));
      return;
    }
    if (Array.isArray(parsed.nodes)) {
      // The UI format runs only as a template (converted on the server).
      fill(
        formBox,
        templates
          ? saveTemplateBox(ctx.session, parsed, true)
          : errorBox("This is the UI format: in ComfyUI use Export (API), and paste that."),
      );
      return;
    }
    const d = detectInputs(parsed);
    form = schemaForm(d.schema, "in");
    fill(
      formBox,
      h("h2", null, "Inputs"),
      Object.keys(d.schema.properties ?? {}).length
        ? form.el
        : h("p", { class: "muted" }, "No editable inputs detected; the workflow runs as it is."),
      templates
        ? h("details", null, h("summary", null, "Save as a template"), saveTemplateBox(ctx.session, parsed, false))
        : null,
    );
    runButton.disabled = false;
    submit = () => {
      const workflow = applyInputs(parsed, d, form?.values() ?? {});
      return fetchJson("/v1/jobs", { workflow, webhook: webhook.value() });
    };
  };
  workflowArea.addEventListener("input", useWorkflow);
  upload.addEventListener("change", () => {
    const file = upload.files?.[0];
    if (!file) return;
    void file.text().then((text) => {
      workflowArea.value = text;
      useWorkflow();
    });
  });

  const fetchJson = (path: string, body: unknown) =>
    fetch(path, {
      method: "POST",
      headers: { authorization: `Bearer ${ctx.session.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  const rawSection = h(
    "div",
    { class: "field" },
    h("label", { for: "workflow" }, "Workflow (API format: ComfyUI → Export (API))"),
    workflowArea,
    h("div", { class: "row" }, h("label", { for: "workflow-file" }, "or upload a file"), upload),
  );

  if (templates && templates.data.length > 0) {
    const select = h(
      "select",
      { id: "template" },
      h("option", { value: "" }, "— paste a workflow instead —"),
      templates.data.map((t) =>
        h("option", { value: t.name }, t.description ? `${t.name} — ${t.description}` : t.name),
      ),
    );
    select.addEventListener("change", () => {
      fill(message);
      if (!select.value) {
        rawSection.hidden = false;
        useWorkflow();
        return;
      }
      rawSection.hidden = true;
      const name = select.value;
      void call<Record<string, unknown>>(ctx.session, `/v1/templates/${encodeURIComponent(name)}`).then(
        ({ data }) => {
          form = schemaForm(inputSchema(data), "in");
          fill(formBox, h("h2", null, "Inputs"), form.el);
          runButton.disabled = false;
          submit = () =>
            fetchJson(`/v1/templates/${encodeURIComponent(name)}/runs`, {
              inputs: form?.values() ?? {},
              webhook: webhook.value(),
            });
        },
        (err: unknown) => fill(formBox, errorBox(err)),
      );
    });
    fill(source, h("div", { class: "field" }, h("label", { for: "template" }, "Template"), select), rawSection);
    const wanted = ctx.query.get("template");
    if (wanted && templates.data.some((t) => t.name === wanted)) {
      select.value = wanted;
      select.dispatchEvent(new Event("change"));
    }
  } else {
    fill(source, rawSection);
  }

  const watch = async (job: Job) => {
    const live = progressView();
    const outputs = h("div");
    const cancel = h(
      "button",
      {
        type: "button",
        class: "danger",
        onclick: () => {
          cancel.disabled = true;
          void call(ctx.session, `/v1/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST" }).then(
            () => toast("Cancel requested."),
            (err: unknown) => result.append(errorBox(err)),
          );
        },
      },
      "Cancel",
    );
    const state = h("span", null, statusBadge(job.status));
    fill(
      result,
      h(
        "div",
        { class: "toolbar" },
        state,
        h("a", { href: `#/jobs/${encodeURIComponent(job.id)}`, class: "mono" }, job.id),
        cancel,
      ),
      live.el,
      outputs,
    );
    await readEvents(
      ctx.session,
      `/v1/jobs/${encodeURIComponent(job.id)}/events`,
      (m) => {
        const e = parseEvent(m.data);
        if (!e) return;
        live.update(e);
        if (e.type === "started") fill(state, statusBadge("running"));
        if (TERMINAL.has(e.type)) {
          fill(state, statusBadge(e.type));
          cancel.hidden = true;
        }
      },
      ctx.signal,
    );
    const { data: done } = await call<Job>(ctx.session, `/v1/jobs/${encodeURIComponent(job.id)}`, {
      signal: ctx.signal,
    });
    fill(state, statusBadge(done.status));
    cancel.hidden = TERMINAL.has(done.status);
    fill(outputs, errorView(done), done.outputs.length > 0 ? gallery(ctx.session, done.id, done.outputs) : null);
  };

  const onSubmit = async (event: Event) => {
    event.preventDefault();
    if (!submit) return;
    fill(message);
    runButton.disabled = true;
    try {
      const res = await submit();
      const body = (await res.json()) as Job & { error?: { message?: string; param?: string } };
      if (!res.ok) {
        const e = body.error as { message?: string; param?: string | null } | undefined;
        fill(message, errorBox(`${e?.message ?? `HTTP ${res.status}`}${e?.param ? ` (${e.param})` : ""}`));
        return;
      }
      if (res.headers.get("x-cache") === "HIT") toast("Served from the output cache.");
      await watch(body);
    } catch (err) {
      fill(message, errorBox(err));
    } finally {
      runButton.disabled = false;
    }
  };

  ctx.root.append(
    page(
      "Run a workflow",
      h(
        "div",
        { class: "split" },
        h(
          "form",
          { class: "card", onsubmit: (e: Event) => void onSubmit(e) },
          source,
          formBox,
          webhook.el,
          message,
          runButton,
        ),
        result,
      ),
    ),
  );
}
