/**
 * `npx comfy-edge runner` as a process: fails fast on bad settings, runs jobs against the stack and the
 * ComfyUI double, logs JSON lines with job ids and no secrets, stops cleanly on SIGTERM, gives a running job
 * back on a doubled Ctrl-C, and exits on a refused (invalid or revoked) token instead of retrying forever.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfyDouble, startComfyDouble } from "../comfyui-double/index.ts";
import { ensurePool, runnerToken, TRIVIAL_WORKFLOW } from "../harness/api.ts";
import { ROOT } from "../harness/build.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { type Client, client, finished } from "./helpers.ts";

const BIN = join(ROOT, "bin", "comfy-edge.mjs");
const exec = promisify(execFile);

/** The runner as a child process, its JSON log lines collected. */
function spawnRunner(env: Record<string, string>) {
  let stdout = "";
  let stderr = "";
  const child: ChildProcess = spawn(process.execPath, [BIN, "runner"], {
    env: { PATH: process.env.PATH, METRICS_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = () =>
    stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { child, exited, lines, stderr: () => stderr };
}

describe("npx comfy-edge runner", () => {
  let stack: Stack;
  let comfy: ComfyDouble;
  let tenant: Client;
  beforeAll(async () => {
    [stack, comfy] = await Promise.all([startStack(), startComfyDouble()]);
    tenant = await client(stack);
  }, 60_000);
  afterAll(async () => {
    await comfy?.close();
    await stack?.close();
  });

  it("fails fast naming every missing or bad variable", async () => {
    const failure = await exec(process.execPath, [BIN, "runner"], {
      env: { PATH: process.env.PATH, JOB_TIMEOUT_S: "soon" },
    }).catch((err: { code: number; stderr: string }) => err);
    expect("code" in failure && failure.code).toBe(2);
    const stderr = (failure as { stderr: string }).stderr;
    expect(stderr).toContain("GATEWAY_URL is required");
    expect(stderr).toContain("RUNNER_TOKEN is required");
    expect(stderr).toContain('JOB_TIMEOUT_S must be an integer from 1 to 604800 (got "soon")');
  });

  it("runs jobs, logs JSON with job ids and no secrets, and stops on SIGTERM", async () => {
    const token = await runnerToken(stack, "cli-pool");
    let stdout = "";
    const child: ChildProcess = spawn(process.execPath, [BIN, "runner"], {
      env: {
        PATH: process.env.PATH,
        GATEWAY_URL: stack.url,
        RUNNER_TOKEN: token,
        COMFYUI_URL: comfy.url,
        RUNNER_ID: "cli-runner",
        METRICS_PORT: "0",
        LOG_LEVEL: "debug",
        DRAIN_TIMEOUT_S: "1",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    try {
      const submitted = await tenant.call("/v1/jobs", { body: { pool: "cli-pool", workflow: TRIVIAL_WORKFLOW } });
      const jobId = submitted.json.id as string;
      const { job } = await finished(stack, tenant, jobId);
      expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const lines = stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.msg)).toEqual(
        expect.arrayContaining(["runner started", "job leased", "job finished", "runner stopped"]),
      );
      // Without COMFYUI_DIR the jobs' files stay in ComfyUI's folders: said once, at start.
      expect(lines.filter((l) => String(l.msg).startsWith("COMFYUI_DIR is not set"))).toHaveLength(1);
      expect(lines.find((l) => l.msg === "job finished")).toMatchObject({
        job_id: jobId,
        attempt: 1,
        outcome: "succeeded",
        outputs: 1,
      });
      expect(stdout).not.toContain(token);
      expect(stdout).not.toMatch(/X-Amz-(Signature|Credential)=(?!REDACTED)/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("a doubled Ctrl-C (terminal and start script) with a job running: drains, gives the job back, exits 0", async () => {
    const token = await runnerToken(stack, "cli-sigint");
    comfy.setNodeDelay("ImageInvert", 4_000);
    const r = spawnRunner({
      GATEWAY_URL: stack.url,
      RUNNER_TOKEN: token,
      COMFYUI_URL: comfy.url,
      RUNNER_ID: "cli-sigint",
      DRAIN_TIMEOUT_S: "1",
    });
    try {
      const before = comfy.prompts().at(-1)?.prompt_id;
      const workflow = structuredClone(TRIVIAL_WORKFLOW);
      workflow["1"].inputs.color = 4242;
      const submitted = await tenant.call("/v1/jobs", { body: { pool: "cli-sigint", workflow } });
      const jobId = submitted.json.id as string;
      const poll = { timeout: 15_000, interval: 25 };
      // The job leased, then its prompt running in ComfyUI.
      await expect.poll(() => r.lines().some((l) => l.msg === "job leased" && l.job_id === jobId), poll).toBe(true);
      await expect
        .poll(() => {
          const last = comfy.prompts().at(-1);
          return last !== undefined && last.prompt_id !== before && comfy.history()[last.prompt_id] === undefined;
        }, poll)
        .toBe(true);
      r.child.kill("SIGINT");
      // The same Ctrl-C again, forwarded by the start script (sent once the first one is handled: two
      // pending SIGINTs would merge into one).
      await expect // the first SIGINT handled
        .poll(() => r.lines().some((l) => String(l.msg).startsWith("signal received: finishing")), poll)
        .toBe(true);
      r.child.kill("SIGINT");
      expect(await r.exited).toBe(0);
      const msgs = r.lines().map((l) => l.msg);
      expect(msgs).toContain("job given back to the gateway");
      expect(msgs).toContain("signal received again; already stopping");
      expect(msgs).not.toContain("second signal: interrupting running jobs and giving them back");
      // Given back (DELETE of the lease: no attempt spent): queued again.
      expect((await tenant.call(`/v1/jobs/${jobId}`)).json).toMatchObject({ status: "queued" });
      await tenant.call(`/v1/jobs/${jobId}/cancel`, { method: "POST" });
    } finally {
      comfy.clearFaults();
      if (r.child.exitCode === null) r.child.kill("SIGKILL");
    }
  });

  it("exits 3 with a clear message when the gateway refuses the token (invalid, then revoked)", async () => {
    await ensurePool(stack, "cli-revoked");
    const bogus = spawnRunner({
      GATEWAY_URL: stack.url,
      RUNNER_TOKEN: "ce_rt_not_a_real_token",
      COMFYUI_URL: comfy.url,
    });
    expect(await bogus.exited).toBe(3);
    expect(bogus.stderr()).toContain(
      "comfy-edge runner: the gateway refused RUNNER_TOKEN (HTTP 401 invalid_runner_token)",
    );
    expect(bogus.stderr()).toContain("npm run cli -- runner-tokens create --pool <pool>");

    const issued = await stack.admin<{ id: string; token: string }>("/admin/v1/runner-tokens", { pool: "cli-revoked" });
    await stack.admin(`/admin/v1/runner-tokens/${issued.id}`, undefined, "DELETE");
    const revoked = spawnRunner({ GATEWAY_URL: stack.url, RUNNER_TOKEN: issued.token, COMFYUI_URL: comfy.url });
    expect(await revoked.exited).toBe(3);
    expect(revoked.stderr()).toContain("(HTTP 401 revoked_runner_token)");
    expect(revoked.stderr()).not.toContain(issued.token);
    expect(JSON.stringify(revoked.lines())).not.toContain(issued.token);
  });
});
