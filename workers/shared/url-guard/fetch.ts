import { runGuardedExchange } from "./exchange.ts";
import type { GuardedFetchOptions, GuardedResponse, UrlPolicy } from "./types.ts";

/**
 * The edge fetch (Workers and Node): the static check on every hop, since a Worker cannot pin DNS.
 * data: URLs are decoded and checked without network. Throws UrlGuardError.
 */
export function guardedFetch(input: string, policy: UrlPolicy, options: GuardedFetchOptions): Promise<GuardedResponse> {
  const fetchImpl: typeof fetch = options.fetchImpl ?? ((request, init) => fetch(request, init));
  return runGuardedExchange(input, policy, options, async ({ check, method, headers, body, signal }) => {
    const response = await fetchImpl(check.url.href, {
      method,
      headers,
      body: body as BodyInit | undefined,
      redirect: "manual",
      signal,
    });
    return { status: response.status, headers: response.headers, body: response.body };
  });
}
