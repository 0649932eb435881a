/**
 * `npm run test:faults [-- --jobs=500]`: the full fault suite. It is `faults.test.ts` run by vitest (its waits are
 * `vi.waitFor`) with FAULT_JOBS jobs at 25 submissions per second; the report is printed as JSON.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../harness/build.ts";

const jobs = process.argv.find((a) => a.startsWith("--jobs="))?.slice(7) ?? "500";
const child = spawn(
  join(ROOT, "node_modules/.bin/vitest"),
  ["run", "--project", "node", "test/faults/faults.test.ts"],
  { cwd: ROOT, stdio: "inherit", env: { ...process.env, FAULT_JOBS: jobs, FAULT_RATE: "25" } },
);
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
