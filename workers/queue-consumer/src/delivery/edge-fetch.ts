/**
 * The consumer's outbound fetch: the runtime's fetch, with its opaque failures put into words. workerd
 * reports a DNS lookup failure only as "internal error; reference = ..." (the host is in its own log, as an
 * "uncaught exception" even when the caller catches it), which says nothing to a tenant: it becomes
 * "could not resolve host <name>".
 *
 * A name under the special-use TLD "invalid" (RFC 6761 §6.4: resolvers return a negative answer for it,
 * always) fails the same way without asking the runtime to look it up: no DNS round trip, and no
 * internal-error report in workerd's log for a lookup that cannot succeed.
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

/** Whether `host` is under the "invalid" TLD (RFC 6761 §6.4), which never resolves. */
export function neverResolves(host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return name === "invalid" || name.endsWith(".invalid");
}

function unresolved(host: string, cause?: unknown): UrlGuardError {
  return new UrlGuardError("fetch_failed", `could not resolve host ${host}`, cause === undefined ? {} : { cause });
}

export function edgeFetch(fetchImpl: typeof fetch = (input, init) => fetch(input, init)): typeof fetch {
  return async (input, init) => {
    const host = hostOf(input);
    if (neverResolves(host)) throw unresolved(host);
    try {
      return await fetchImpl(input, init);
    } catch (error) {
      if (isRuntimeInternalError(error)) throw unresolved(host, error);
      throw error;
    }
  };
}
