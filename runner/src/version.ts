/** The runner's version, sent with every lease request (kept equal to runner/package.json's; a test checks). */
export const RUNNER_VERSION = "0.1.0";
