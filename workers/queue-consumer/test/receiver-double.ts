/**
 * Test double of webhook receivers for the consumer's workerd tests: a fetch whose answer is chosen per
 * host. "hang" holds the request until the test releases it (or the delivery's timeout aborts it).
 */

export type Behaviour =
  | { kind: "answer"; status: number; body?: ReadableStream<Uint8Array> | string }
  | { kind: "hang" }
  | { kind: "throw"; message: string };

export interface SeenRequest {
  host: string;
  eventId: string;
  signature: string;
  body: string;
  /** Still waiting for an answer (hanging). */
  open: boolean;
}

export class ReceiverDouble {
  readonly requests: SeenRequest[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly hanging: Array<{ request: SeenRequest; fail: (error: Error) => void }> = [];

  set(host: string, behaviour: Behaviour): void {
    this.behaviours.set(host, behaviour);
  }

  to(host: string): SeenRequest[] {
    return this.requests.filter((r) => r.host === host);
  }

  /** Ends every hanging request to `host` with a network error. */
  failHanging(host: string): void {
    for (const h of this.hanging.splice(0)) {
      if (h.request.host === host) h.fail(new Error("Network connection lost."));
      else this.hanging.push(h);
    }
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const headers = new Headers(init?.headers);
    const request: SeenRequest = {
      host: url.hostname,
      eventId: headers.get("webhook-id") ?? "",
      signature: headers.get("webhook-signature") ?? "",
      body: typeof init?.body === "string" ? init.body : "",
      open: false,
    };
    this.requests.push(request);
    const behaviour = this.behaviours.get(url.hostname) ?? { kind: "answer", status: 200 };
    if (behaviour.kind === "throw") throw new Error(behaviour.message);
    if (behaviour.kind === "answer") return new Response(behaviour.body ?? "ok", { status: behaviour.status });
    request.open = true;
    return new Promise<Response>((_, reject) => {
      const fail = (error: unknown) => {
        request.open = false;
        reject(error);
      };
      this.hanging.push({ request, fail });
      init?.signal?.addEventListener("abort", () => fail(init.signal?.reason), { once: true });
    });
  };
}
