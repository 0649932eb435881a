/** edgeFetch: runtime failures put into words; names under ".invalid" (RFC 6761) fail without a lookup. */
import { UrlGuardError } from "@comfy-edge/shared/url-guard";
import { describe, expect, it } from "vitest";
import { edgeFetch, neverResolves } from "./edge-fetch.ts";

function counting(respond: () => Promise<Response>) {
  const calls: string[] = [];
  const impl: typeof fetch = async (input) => {
    calls.push(String(input));
    return respond();
  };
  return { calls, impl };
}

describe("edgeFetch", () => {
  it("fails a host under .invalid as unresolvable without asking the runtime", async () => {
    const t = counting(async () => new Response("no"));
    const err = await edgeFetch(t.impl)("https://no-such-host.INVALID./x.png").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UrlGuardError);
    expect(err).toMatchObject({ code: "fetch_failed", message: "could not resolve host no-such-host.invalid." });
    expect((err as UrlGuardError).transient).toBe(true);
    expect(t.calls).toEqual([]);
  });

  it("passes other hosts to the runtime", async () => {
    const t = counting(async () => new Response("ok", { status: 201 }));
    expect((await edgeFetch(t.impl)("https://images.example.com/x.png")).status).toBe(201);
    expect(t.calls).toEqual(["https://images.example.com/x.png"]);
  });

  it("names the host when the runtime reports only an internal error", async () => {
    const err = await edgeFetch(async () => {
      throw new Error("internal error; reference = abc123");
    })("https://gone.example.com/x").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "fetch_failed", message: "could not resolve host gone.example.com" });
  });

  it("knows which names never resolve", () => {
    expect(["invalid", "a.invalid", "A.b.Invalid."].map(neverResolves)).toEqual([true, true, true]);
    expect(["invalid.example.com", "example.invalidx", "example.com"].map(neverResolves)).toEqual([
      false,
      false,
      false,
    ]);
  });
});
