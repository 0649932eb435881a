/**
 * One local stack per test file: started before its tests, closed after them. Returns a getter (the stack
 * exists only once `beforeAll` ran). Plain-node scripts (`try-*.ts`) use `startStack` directly, since this
 * module needs vitest.
 */
import { afterAll, beforeAll } from "vitest";
import { type Stack, type StackOptions, startStack } from "./stack.ts";

export function useStack(options: StackOptions = {}): () => Stack {
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startStack(options);
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });
  return () => {
    if (!stack) throw new Error("the test stack is not started: call stack() inside a test or hook");
    return stack;
  };
}
