/** `npm run test:faults [-- --jobs=500]`: the full fault suite, printing its counts. */
import { passed, runFaultSuite } from "./suite.ts";

const jobs = Number(process.argv.find((a) => a.startsWith("--jobs="))?.slice(7) ?? 500);
const report = await runFaultSuite({ jobs, log: (l) => console.error(l) });
console.log(JSON.stringify(report, null, 2));
console.log(passed(report) ? "fault suite: PASS" : "fault suite: FAIL");
process.exit(passed(report) ? 0 : 1);
