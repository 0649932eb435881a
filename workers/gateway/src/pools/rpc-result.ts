/**
 * Results of RPC calls to Durable Objects (Workers RPC — Lifecycle). The runtime adds a disposer to every
 * object an RPC call returns; when the callee returned an object that itself had a disposer (e.g. a value
 * it got from another RPC call and passed on as it was), the caller holds the callee's call open until it
 * disposes the result, and the runtime warns "An RPC result was not disposed properly" when the garbage
 * collector finds one it did not dispose. So a value that goes on from here is a plain copy, and the RPC
 * result is disposed as soon as it is read.
 */

/** `Symbol.dispose` where the runtime has it (workerd, Node 22+); the project's ES2024 lib does not type it. */
const DISPOSE: symbol | undefined = (Symbol as SymbolConstructor & { readonly dispose?: symbol }).dispose;

/** Disposes what an RPC call returned (its stubs, and the callee's end of the call); no-op for primitives. */
export function disposeRpcResult(value: unknown): void {
  if (DISPOSE === undefined || value === null || typeof value !== "object") return;
  const dispose: unknown = Reflect.get(value, DISPOSE);
  if (typeof dispose === "function") dispose.call(value);
}

/**
 * Awaits an RPC call whose result is plain data, and returns a plain copy of it (own enumerable fields: the
 * runtime's disposer is not one), with the RPC result disposed on every path.
 */
export async function takeRpcData<T>(call: Promise<T>): Promise<T> {
  const result = await call;
  try {
    return result !== null && typeof result === "object" && !Array.isArray(result) ? { ...result } : result;
  } finally {
    disposeRpcResult(result);
  }
}
