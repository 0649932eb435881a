/** A local webhook receiver for tests: records every request; its answer is scriptable. */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  headers: Record<string, string>;
  body: string;
  json: { type: string; timestamp: string; sequence: number; data: Record<string, any> };
  answeredWith: number;
  /** A request held open ("hang"): true until its connection closes (e.g. the sender gave up). */
  open?: boolean;
}

export type Answer = number | "hang";

export interface Receiver {
  url: string;
  received: Received[];
  /**
   * Status to answer with; a function gets the parsed body. "hang": the request is recorded (answeredWith 0)
   * and never answered (a receiver that accepts connections but never replies).
   */
  respond: Answer | ((r: Omit<Received, "answeredWith">) => Answer);
  /** Resolves once `predicate` holds for the received list. */
  waitFor(predicate: (received: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** Starts a receiver on 127.0.0.1 (`port` 0: any free port). */
export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const watchers = new Set<() => void>();
  const receiver: Receiver = {
    url: "",
    received,
    respond: 200,
    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(received)) {
            watchers.delete(check);
            clearTimeout(timer);
            resolve(received);
          }
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(
            new Error(
              `receiver: condition not met after ${timeoutMs} ms; got ${received.map((r) => `${r.json.type}:${r.answeredWith}`).join(", ")}`,
            ),
          );
        }, timeoutMs);
        watchers.add(check);
        check();
      });
    },
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const entry = { headers, body, json: JSON.parse(body) };
      const answer = typeof receiver.respond === "function" ? receiver.respond(entry) : receiver.respond;
      const record: Received = { ...entry, answeredWith: answer === "hang" ? 0 : answer };
      received.push(record);
      if (answer === "hang") {
        record.open = true;
        res.on("close", () => {
          record.open = false;
        });
      } else {
        res.writeHead(answer, { "content-type": "text/plain" });
        res.end(answer < 300 ? "ok" : "nope");
      }
      for (const w of [...watchers]) w();
    });
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}
