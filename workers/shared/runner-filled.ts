/**
 * Inputs the runner fills in itself (runner/src/comfy/workflow.ts), so the gateway must not refuse a workflow
 * for them: a seed given as -1 (`seed`, `noise_seed`, `*_seed`) is replaced by a random seed and reported back
 * as the run's resolved inputs; `filename_prefix` is always replaced by the run's own prefix, so it may be
 * left out.
 */
export const SEED_INPUT = /(^|_)seed$/i;

/** The value that asks the runner to choose a seed. */
export const RANDOM_SEED = -1;

/** Inputs the runner always sets, whatever the workflow gives. */
export const RUNNER_SET_INPUTS: ReadonlySet<string> = new Set(["filename_prefix"]);

/** True for a seed input given as -1, which the runner replaces by a random seed. */
export function isRandomSeed(name: string, value: unknown): boolean {
  return value === RANDOM_SEED && SEED_INPUT.test(name);
}
