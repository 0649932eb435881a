/**
 * The CLI as a customer uses it against the whole stack (gateway + queue consumer on workerd) and a
 * scripted runner: save the SD1.5 UI-format file as a template, run it by name with a prompt and seed -1,
 * follow the progress from the job's events, get the image; watch a job (the seeds that ran, previews as a
 * count with their step, LLM steps); refused inputs name inputs.<name>.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { bar, eventLine } from "../../cli/event-line.ts";
import { main } from "../../cli/main.ts";
import { ensurePool, runnerToken, ScriptedRunner, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea73581e40000000049454e44ae426082",
  "hex",
);
const SD15 = path.join(import.meta.dirname, "../fixtures/workflows/sd15-txt2img.ui.json");

describe("CLI: templates, run, jobs watch", () => {
  let stack: Stack;
  let env: NodeJS.ProcessEnv;
  let runner: ScriptedRunner;
  beforeAll(async () => {
    stack = await startStack();
    await ensurePool(stack, "cli-tpl");
    const tenant = await tenantWithKey(stack, { default_pool: "cli-tpl" });
    env = { COMFY_EDGE_URL: stack.url, COMFY_EDGE_API_KEY: tenant.key };
    runner = new ScriptedRunner(stack, await runnerToken(stack, "cli-tpl"));
  }, 60_000);
  afterAll(() => stack?.close());

  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env, cwd: tmpdir() });
    return { code, out: out.join("\n"), err: err.join("\n") };
  }

  it("creates a template from a UI-format file, runs it with a progress bar and saves the image", async () => {
    const created = await cli("templates", "create", "-f", SD15, "--name", "t2i");
    expect(created.code, created.err).toBe(0);
    expect(created.out).toContain("template t2i@1 created");
    expect(created.out).toMatch(/prompt\s+string/);
    expect(created.out).toMatch(/seed\s+int\s+default -1/);

    // The runner: checks the graph it got, reports the seed it chose, three steps of node 3, one image.
    const work = (async () => {
      const grant = (await runner.lease(20))!;
      const graph = grant.job.workflow as Record<string, { inputs: Record<string, unknown> }>;
      expect(graph["6"]!.inputs.text).toBe("a fox in the snow");
      expect(graph["3"]!.inputs).toMatchObject({ seed: -1, steps: 3 });
      await runner.event(grant.lease.id, { type: "started", resolved_inputs: { "3": { seed: 4242 } } });
      for (let v = 1; v <= 3; v++)
        await runner.event(grant.lease.id, { type: "progress", value: v, max: 3, node_id: "3" });
      const up = await runner.upload(grant.lease.id, PNG, "ComfyUI_00001_.png");
      await runner.event(grant.lease.id, { type: "succeeded", outputs: [up.ref] });
    })();
    const out = await mkdtemp(path.join(tmpdir(), "cli-tpl-"));
    const ran = await cli("run", "t2i", "--prompt", "a fox in the snow", "--seed", "-1", "--steps", "3", "--out", out);
    await work;
    expect(ran.code, ran.err).toBe(0);
    expect(ran.err).toContain(bar(3, 3, "3"));
    expect(ran.err).toMatch(/^started \(attempt 1, runner \S+\); resolved 3\.seed=4242$/m);
    expect(ran.err.split("\n")).toContain("succeeded");
    expect(ran.out).toContain('"seed":4242');
    const saved = /saved (.+\.png)/.exec(ran.out)?.[1];
    expect(saved).toBeDefined();
    expect(Buffer.compare(await readFile(saved!), PNG)).toBe(0);

    const jobId = /job (job_[0-9a-z]{26}|job_[0-9a-f]{64})/.exec(ran.out)![1]!;
    const watched = await cli("jobs", "watch", jobId);
    expect(watched.code).toBe(0);
    expect(watched.out).toContain(`job ${jobId} succeeded`);
    expect(watched.out).toMatch(/output 0: http/);
  });

  it("jobs watch shows a live preview as a count with its step and size, never its base64", async () => {
    await cli("templates", "create", "-f", SD15, "--name", "t2i-preview");
    const submitted = await cli("run", "t2i-preview", "--steps", "4", "--no-wait");
    const jobId = /job (job_\S+)/.exec(submitted.out)![1]!;
    const err: string[] = [];
    const grant = (await runner.lease(20))!;
    expect(grant.job.id).toBe(jobId);
    await runner.event(grant.lease.id, { type: "started", resolved_inputs: { "3": { seed: 77 } } });
    const frame = Buffer.alloc(3000, 7);
    await runner.event(grant.lease.id, {
      type: "preview",
      node_id: "3",
      value: 2,
      max: 4,
      content_type: "image/jpeg",
      image_b64: frame.toString("base64"),
    });
    const watched = main(["jobs", "watch", jobId], { out: () => {}, err: (l) => err.push(l), env, cwd: tmpdir() });
    // A subscriber arriving mid-run gets the latest preview; the runner finishes once the CLI has shown it.
    await vi.waitFor(() => expect(err).toContain("preview 1 (step 2/4, node 3, 3 KiB)"), { timeout: 20_000 });
    const up = await runner.upload(grant.lease.id, PNG, "ComfyUI_00001_.png");
    await runner.event(grant.lease.id, { type: "succeeded", outputs: [up.ref] });
    expect(await watched).toBe(0);
    expect(err.join("\n")).toMatch(/^started \(attempt 1, runner \S+\); resolved 3\.seed=77$/m);
    expect(err.join("\n")).not.toContain(frame.toString("base64").slice(0, 40));
  });

  it("prints LLM steps, previews without step or node, and started without resolved inputs", () => {
    const state = { previews: 0 };
    const llm = {
      model: "gpt-test",
      cache: "HIT",
      usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 },
      output: "a lighthouse at dusk, oil painting, ".repeat(4),
    };
    const line = eventLine("llm", llm, state);
    expect(line).toMatch(/^llm step: gpt-test \(cache HIT, 12\+30 tokens\) wrote "a lighthouse at dusk, .*\.\.\."$/);
    expect(line.length).toBeLessThan(140);
    expect(eventLine("llm", { ...llm, usage: null, output: "short" }, state)).toBe(
      'llm step: gpt-test (cache HIT) wrote "short"',
    );
    expect(eventLine("preview", { node_id: null, image: "data:image/jpeg;base64,AAAA" }, state)).toBe(
      "preview 1 (1 KiB)",
    );
    expect(eventLine("preview", { node_id: "9", value: 5, max: 20 }, state)).toBe("preview 2 (step 5/20, node 9)");
    expect(eventLine("started", { attempt: 2, runner_id: "r1" }, state)).toBe("started (attempt 2, runner r1)");
    expect(
      eventLine("started", { attempt: 1, resolved_inputs: { "3": { seed: 1 }, "7": { noise_seed: 2 } } }, state),
    ).toBe("started (attempt 1); resolved 3.seed=1, 7.noise_seed=2");
    expect(eventLine("keep-alive", {}, state)).toBe("");
  });

  it("draws the bar from value and max", () => {
    expect(bar(0, 20, "3", 10)).toBe("[----------]   0%  node 3  step 0/20");
    expect(bar(10, 20, null, 10)).toBe("[#####-----]  50%  step 10/20");
    expect(bar(25, 20, "7", 4)).toBe("[####] 100%  node 7  step 25/20");
  });

  it("refuses bad inputs before and at the gateway, naming them", async () => {
    await cli("templates", "create", "-f", SD15, "--name", "t2i-bad");
    const notNumber = await cli("run", "t2i-bad", "--steps", "many");
    expect(notNumber.code).toBe(2);
    expect(notNumber.err).toContain('--steps: expected a number, got "many"');
    const range = await cli("run", "t2i-bad", "--input", "cfg=1000", "--no-wait");
    expect(range.code).toBe(1);
    expect(range.err).toContain("[inputs.cfg]");
    const unknown = await cli("run", "t2i-bad", "--input", "colour=red", "--no-wait");
    expect(unknown.err).toContain("unknown_input");
    const missing = await cli("run", "nope");
    expect(missing.err).toContain("template_not_found");
  });
});
