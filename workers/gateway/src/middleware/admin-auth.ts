import { timingSafeEqual } from "@comfy-edge/shared/crypto";
import { ApiError } from "@comfy-edge/shared/errors";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../types.ts";
import { bearerToken, limitUnauthenticated } from "./client-limit.ts";

/** Admin API: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
export function adminAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const expected = c.env.ADMIN_TOKEN;
    if (!expected)
      throw new ApiError(
        403,
        "admin_disabled",
        "The admin API is disabled: ADMIN_TOKEN is not set on this deployment.",
      );
    const token = bearerToken(c);
    if (token === null) {
      await limitUnauthenticated(c);
      throw new ApiError(
        401,
        "missing_admin_token",
        "No admin token given. Send 'Authorization: Bearer <ADMIN_TOKEN>'.",
      );
    }
    if (token === "malformed" || !(await timingSafeEqual(token, expected))) {
      await limitUnauthenticated(c);
      throw new ApiError(401, "invalid_admin_token", "The admin token is not valid.");
    }
    await next();
  };
}
