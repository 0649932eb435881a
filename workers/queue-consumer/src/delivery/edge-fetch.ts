/**
 * The consumer's outbound fetch: the runtime's fetch, with its opaque failures put into words. workerd
 * reports a DNS lookup failure only as "internal error; reference = ..." (the host is in its own log),
 * which says nothing to a tenant: it becomes "could not resolve host <name>".
 */
import { UrlGuardError } from "@comfy-edge/shared/url-guard";

function isRuntimeInternalError(error: unknown): boolean {
  return error instanceof Error && /^internal error; reference = /.test(error.message);
}

function hostOf(input: RequestInfo | URL): string {
  const href = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  try {
    return new URL(href).hostname;
  } catch {
    return "(invalid URL)";
  }
}

export function edgeFetch(fetchImpl: typeof fetch = (input, init) => fetch(input, init)): typeof fetch {
  return async (input, init) => {
    try {
      return await fetchImpl(input, init);
    } catch (error) {
      if (isRuntimeInternalError(error)) {
        throw new UrlGuardError("fetch_failed", `could not resolve host ${hostOf(input)}`, { cause: error });
      }
      throw error;
    }
  };
}
