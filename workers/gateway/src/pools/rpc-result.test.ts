/** RPC results on workerd: a lease grant read from the job object goes on as a plain copy, the result disposed. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { jobInput } from "../../test/job-fixtures.ts";
import { disposeRpcResult, takeRpcData } from "./rpc-result.ts";

const DISPOSE = (Symbol as SymbolConstructor & { readonly dispose: symbol }).dispose;

async function queuedJob(pool: string) {
  const id = env.JOBS.newUniqueId();
  const jobId = `job_${id.toString()}`;
  const stub = env.JOBS.get(id);
  await stub.create(jobInput(jobId, { tenant_id: "ten_rpc", key_id: "key_rpc", pool }));
  return { jobId, stub };
}

describe("RPC results", () => {
  it("takes a grant as a plain copy: the same data, without the runtime's disposer", async () => {
    const { jobId, stub } = await queuedJob("rpc-pool");
    const raw = await stub.get("ten_rpc");
    expect(raw).not.toBeNull();
    // Every object an RPC call returns carries a disposer added by the runtime...
    expect(typeof Reflect.get(raw as object, DISPOSE)).toBe("function");
    disposeRpcResult(raw);
    const grant = await takeRpcData(stub.grantLease(1, "r1", "rpc-pool"));
    // ...the copy does not: passed on over RPC, it does not hold this call open for the next caller.
    expect(grant).not.toBeNull();
    expect(Reflect.get(grant as object, DISPOSE)).toBeUndefined();
    expect(grant).toMatchObject({ job_id: jobId, attempt: 1 });
  });

  it("disposes objects and ignores primitives", () => {
    let disposed = 0;
    const value = { [DISPOSE]: () => disposed++ };
    disposeRpcResult(value);
    disposeRpcResult(null);
    disposeRpcResult(undefined);
    disposeRpcResult("capabilities_required");
    expect(disposed).toBe(1);
  });
});
