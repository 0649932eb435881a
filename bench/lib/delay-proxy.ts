/**
 * A TCP proxy that delays every chunk by `delayMs` in each direction (a WAN link: 2 x delayMs per round
 * trip), for the WAN benchmark. It also notes the HTTP requests it carries from client to server (method
 * and path, from request lines at the start of a chunk), so the benchmark can count a runner's requests.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface SeenRequest {
  at: number;
  method: string;
  path: string;
}

export interface DelayProxy {
  url: string;
  /** One-way delay in ms (change it at any time; applies to chunks read after). */
  delayMs: number;
  requests: SeenRequest[];
  close(): Promise<void>;
}

const REQUEST_LINE = /^(GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS) (\S+) HTTP\/1\.[01]\r\n/;

export async function startDelayProxy(target: URL, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const proxy: DelayProxy = {
    url: "",
    delayMs,
    requests: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  /** Forwards `from` to `to` with the delay, keeping order (equal delays fire in order) and backpressure off. */
  const pipeDelayed = (from: Socket, to: Socket, seeRequests: boolean) => {
    from.on("data", (chunk: Buffer) => {
      if (seeRequests) {
        const m = REQUEST_LINE.exec(chunk.subarray(0, 512).toString("latin1"));
        if (m) proxy.requests.push({ at: performance.now(), method: m[1]!, path: m[2]!.split("?")[0]! });
      }
      const write = () => {
        if (!to.destroyed) to.write(chunk);
      };
      if (proxy.delayMs > 0) setTimeout(write, proxy.delayMs);
      else write();
    });
    from.on("end", () => setTimeout(() => to.end(), proxy.delayMs));
    from.on("error", () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on("close", () => sockets.delete(s));
    }
    pipeDelayed(client, upstream, true);
    pipeDelayed(upstream, client, false);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return proxy;
}
