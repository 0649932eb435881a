import dns from "node:dns";
import {
  forbiddenAddressDescription,
  type GuardedFetchOptions,
  type GuardedResponse,
  type HttpUrlCheck,
  runGuardedExchange,
  UrlGuardError,
  type UrlPolicy,
} from "@comfy-edge/shared/url-guard";
import { nodeTransport, type Transport } from "./node-transport.ts";

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;

/** The system resolver (getaddrinfo, so /etc/hosts counts too), all answers. */
export const systemResolver: Resolver = async (hostname) => {
  const answers = await dns.promises.lookup(hostname, { all: true, order: "verbatim" });
  return answers.map((answer) => ({ address: answer.address, family: answer.family === 6 ? 6 : 4 }));
};

export interface RunnerFetchOptions extends GuardedFetchOptions {
  /** Default: systemResolver. */
  resolver?: Resolver;
  /** Default: nodeTransport. Injectable so tests can see which address a request would connect to. */
  transport?: Transport;
}

function errorCode(error: unknown): string {
  if (error !== null && typeof error === "object" && "code" in error) return String(error.code);
  return error instanceof Error ? error.message : String(error);
}

/** Resolves a checked host once and refuses it if ANY answer is forbidden; IP literals need no DNS. */
async function resolveChecked(
  check: HttpUrlCheck,
  policy: UrlPolicy,
  resolver: Resolver,
): Promise<{ address: string; family: 4 | 6 }> {
  if (check.ip !== null) return { address: check.ip, family: check.ip.includes(":") ? 6 : 4 };
  let answers: Array<{ address: string; family: 4 | 6 }>;
  try {
    answers = await resolver(check.host);
  } catch (error) {
    throw new UrlGuardError("fetch_failed", `could not resolve ${check.host} (${errorCode(error)})`, { cause: error });
  }
  const first = answers[0];
  if (first === undefined) throw new UrlGuardError("fetch_failed", `${check.host} resolved to no address`);
  for (const answer of answers) {
    const reason = forbiddenAddressDescription(answer.address, policy.allowPrivate);
    if (reason !== null) {
      throw new UrlGuardError("unsafe_url", `host ${check.host} resolves to ${reason}, which is not allowed`);
    }
  }
  return { address: first.address, family: first.address.includes(":") ? 6 : 4 };
}

/**
 * The runner's fetch: everything the edge fetch does (checkUrl on every hop, at most maxRedirects,
 * byte cap, timeout, image checks), plus DNS: each hop's host is resolved exactly once, refused if any
 * answer is not public, and the socket connects to the checked address (DNS rebinding cannot switch it).
 * Throws UrlGuardError.
 */
export function runnerFetch(input: string, policy: UrlPolicy, options: RunnerFetchOptions): Promise<GuardedResponse> {
  const resolver = options.resolver ?? systemResolver;
  const transport = options.transport ?? nodeTransport;
  return runGuardedExchange(input, policy, options, async ({ check, method, headers, body, signal }) => {
    const { address, family } = await resolveChecked(check, policy, resolver);
    const url = check.url;
    const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
    const hostname = check.ip ?? check.host;
    return transport({ url, hostname, address, family, port, method, headers, body, signal });
  });
}
