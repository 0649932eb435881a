/**
 * The "done when", as a customer would do it, against a real ComfyUI (not part of `npm test`):
 *
 *   COMFYUI_URL=http://127.0.0.1:8188 node test/templates/customer-demo.ts
 *
 * A local stack (gateway + queue consumer on workerd) and the real runner in front of that ComfyUI; with
 * the CLI: save the SD1.5 UI-format file as a template, see the detected inputs, run it by name with a
 * prompt and seed -1 (progress from the job's events, image saved), then run it twice with a fixed seed:
 * the second is an output-cache hit. Prints what each step printed and the times.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { main } from "../../cli/main.ts";
import { startTestRunner } from "../e2e/helpers.ts";
import { ensurePool, tenantWithKey } from "../harness/api.ts";
import { startStack } from "../harness/stack.ts";

const comfy = process.env.COMFYUI_URL ?? "http://127.0.0.1:8188";
const info = (await (await fetch(`${comfy}/object_info/CheckpointLoaderSimple`)).json()) as {
  CheckpointLoaderSimple: { input: { required: { ckpt_name: [string[]] } } };
};
// The harness's random-weight checkpoint (other files in that folder may come and go).
const files = info.CheckpointLoaderSimple.input.required.ckpt_name[0];
const ckpt = files.find((f) => f.startsWith("tiny-random-sd15-small")) ?? files[0]!;
const stack = await startStack();
try {
  await ensurePool(stack, "local");
  const tenant = await tenantWithKey(stack);
  const runner = await startTestRunner(stack, [comfy], { pool: "local" });
  const env = { COMFY_EDGE_URL: stack.url, COMFY_EDGE_API_KEY: tenant.key };
  const dir = await mkdtemp(path.join(tmpdir(), "template-demo-"));
  // The author points the template at this pool's checkpoint and makes it small enough for a CPU.
  const overrides = path.join(dir, "inputs.json");
  await writeFile(
    overrides,
    JSON.stringify({
      checkpoint: { default: ckpt },
      steps: { default: 4 },
      width: { default: 128 },
      height: { default: 128 },
    }),
  );

  async function cli(...argv: string[]) {
    const started = performance.now();
    const lines: string[] = [];
    const code = await main(argv, { out: (l) => lines.push(l), err: (l) => lines.push(`  | ${l}`), env, cwd: dir });
    const ms = Math.round(performance.now() - started);
    console.log(`$ comfy-edge ${argv.join(" ")}   (exit ${code}, ${ms} ms)\n${lines.join("\n")}\n`);
    return { code, ms, text: lines.join("\n") };
  }

  const sd15 = path.join(import.meta.dirname, "../fixtures/workflows/sd15-txt2img.ui.json");
  await cli("templates", "create", "-f", sd15, "--name", "t2i", "--inputs", overrides);
  await cli("run", "t2i", "--prompt", "a lighthouse at dusk", "--seed", "-1", "--out", path.join(dir, "out"));
  await cli("run", "t2i", "--prompt", "a lighthouse at dusk", "--seed", "1234", "--out", path.join(dir, "out"));
  const hit = await cli("run", "t2i", "--prompt", "a lighthouse at dusk", "--seed", "1234", "--no-wait");
  console.log(hit.text.includes("x-cache: HIT") ? `cache hit in ${hit.ms} ms (whole CLI command)` : "NO CACHE HIT");
  await runner.close();
} finally {
  await stack.close();
}
