/**
 * Property-based fuzzing of every public endpoint (from /openapi.json) with random and malformed
 * bodies, headers, huge and unicode values. Pass: no 5xx (bar upstream errors of the LLM proxy), and
 * every 4xx in the error envelope with a code and the request id.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePool, runnerToken, tenantWithKey } from "../harness/api.ts";
import { type Stack, startStack } from "../harness/stack.ts";

interface Operation {
  method: string;
  path: string;
  security: string | null;
}

const UPSTREAM_PATHS = new Set(["/v1/chat/completions", "/v1/models"]);

describe("fuzzing every endpoint", () => {
  let stack: Stack;
  let operations: Operation[];
  let creds: Record<string, string>;
  let jobId: string;

  beforeAll(async () => {
    // An LLM upstream that refuses connections: the proxy must still never answer 500.
    stack = await startStack({ vars: { LLM_UPSTREAM_URL: "http://127.0.0.1:9/v1" } });
    await ensurePool(stack, "local");
    const t = await tenantWithKey(stack);
    creds = { apiKey: t.key, adminToken: stack.adminToken, runnerToken: await runnerToken(stack, "local") };
    const submitted = await fetch(`${stack.url}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
      body: JSON.stringify({ workflow: { "1": { class_type: "SaveImage", inputs: { filename_prefix: "x" } } } }),
    });
    jobId = ((await submitted.json()) as { id: string }).id;
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { security?: Array<Record<string, unknown>> }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        security: op.security?.[0] ? Object.keys(op.security[0])[0]! : null,
      })),
    );
  });
  afterAll(() => stack?.close());

  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: "grapheme", maxLength: 50 }),
    fc.constantFrom("", "null", "[]", "{}", '{"a":', "\u0000", "\ud800", "💥".repeat(100), "a".repeat(70_000)),
  );
  const json = fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc
      .record(
        { workflow: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), pool: fc.string() },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
    fc
      .record(
        {
          model: fc.string(),
          messages: fc.array(fc.record({ role: fc.string(), content: fc.jsonValue({ maxDepth: 2 }) })),
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
    fc
      .record(
        { name: text, scopes: fc.array(fc.string()), tenant_id: fc.string(), limits: fc.jsonValue() },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
    text,
  );
  const contentType = fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "",
    "application/merge-patch+json",
  );
  const pathParam = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.constantFrom("job_" + "0".repeat(64), "..", "%00", "ls_x_1_y", "key_abc", "0", "-1", "9999999999"),
  );

  it("never answers 5xx and always uses the error envelope", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 10_000 }),
        fc.constantFrom("valid", "none", "garbage", "wrong-kind"),
        json,
        contentType,
        pathParam,
        fc.option(
          fc.dictionary(
            fc.constantFrom("prefer", "idempotency-key", "last-event-id", "cache-control", "x-cache-ttl", "accept"),
            text.map((s) =>
              [...s]
                .filter((ch) => ch >= " " && ch <= "~")
                .join("")
                .slice(0, 200),
            ),
          ),
        ),
        async (pick, auth, body, ctype, param, extraHeaders) => {
          const op = operations[pick % operations.length]!;
          const useJobId = pick % 3 === 0;
          const path = op.path
            .replace(/\{[^}]+\}/g, () => encodeURIComponent(useJobId ? jobId : param))
            .replace("/events", useJobId ? "/cancel" : "/events");
          const headers: Record<string, string> = { ...(extraHeaders ?? {}) };
          if (ctype) headers["content-type"] = ctype;
          headers["cf-connecting-ip"] = `203.0.113.${pick % 250}`;
          if (auth === "valid" && op.security) headers.authorization = `Bearer ${creds[op.security]}`;
          else if (auth === "garbage") headers.authorization = `Bearer ${param.replace(/[^\x21-\x7e]/g, "x") || "x"}`;
          else if (auth === "wrong-kind") headers.authorization = `Bearer ${creds.adminToken}`;
          const hasBody = op.method !== "GET" && op.method !== "HEAD";
          const controller = new AbortController();
          const timer = setTimeout(() => controller.abort(), 10_000);
          let res: Response;
          try {
            res = await fetch(`${stack.url}${path}`, {
              method: op.method,
              headers,
              body: hasBody ? body : undefined,
              signal: controller.signal,
            });
          } catch (err) {
            throw new Error(
              `${op.method} ${path} (headers ${JSON.stringify(headers)}) failed: ${(err as Error).message} ${String((err as Error).cause)}`,
            );
          } finally {
            clearTimeout(timer);
          }
          const raw = await res.text();
          const upstreamError = UPSTREAM_PATHS.has(op.path) && [502, 503, 504].includes(res.status);
          expect(res.status < 500 || upstreamError, `${op.method} ${path} -> ${res.status} ${raw.slice(0, 300)}`).toBe(
            true,
          );
          if (res.status >= 400) {
            const parsed = JSON.parse(raw) as {
              error?: { code?: unknown; request_id?: unknown; type?: unknown; message?: unknown };
            };
            expect(typeof parsed.error?.code, raw.slice(0, 300)).toBe("string");
            expect(typeof parsed.error?.message).toBe("string");
            expect(parsed.error?.request_id).toBe(res.headers.get("x-request-id"));
          }
        },
      ),
      {
        numRuns: Number(process.env.FUZZ_RUNS ?? 400),
        seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined,
        path: process.env.FUZZ_PATH,
      },
    );
  });
});
