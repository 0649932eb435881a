/**
 * `npx comfy-edge runner` as a process: fails fast on bad settings, runs jobs against the stack and the
 * ComfyUI double, logs JSON lines with job ids and no secrets, and stops cleanly on SIGTERM.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfyDouble, startComfyDouble } from "../comfyui-double/index.ts";
import { runnerToken, TRIVIAL_WORKFLOW } from "../harness/api.ts";
import { ROOT } from "../harness/build.ts";
import { type Stack, startStack } from "../harness/stack.ts";
import { type Client, client, finished } from "./helpers.ts";

const BIN = join(ROOT, "bin", "comfy-edge.mjs");
const exec = promisify(execFile);

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
});
