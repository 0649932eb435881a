import { randomBase62 } from "@comfy-edge/shared/crypto";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../types.ts";

export function newRequestId(): string {
  return `req_${randomBase62(20)}`;
}

/** Gives every request an id, returned as `x-request-id` on every response (errors included). */
export function requestId(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = newRequestId();
    c.set("requestId", id);
    c.header("x-request-id", id);
    await next();
  };
}
