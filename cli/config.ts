/**
 * Where the admin CLI sends requests and with which token. The token comes from COMFY_EDGE_ADMIN_TOKEN;
 * on the local stack it may come from ADMIN_TOKEN in ./.dev.vars instead, and then only ever goes to a
 * gateway on this machine (loopback), never to a remote COMFY_EDGE_URL.
 */
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { AdminConfig } from "./admin-client.ts";

export class UsageError extends Error {}

/** True for a URL whose host is this machine: localhost (and *.localhost), 127.0.0.0/8, ::1. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.split(".")[0] === "127";
  if (isIP(host) === 6) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}

function devVarsToken(cwd: string): string | undefined {
  const path = `${cwd}/.dev.vars`;
  if (!existsSync(path)) return undefined;
  return /^ADMIN_TOKEN="?([^"\n]+)"?/m.exec(readFileSync(path, "utf8"))?.[1];
}

/** Admin settings from the environment; on the local stack the token may come from ./.dev.vars. */
export function adminConfig(env: NodeJS.ProcessEnv, cwd: string): AdminConfig {
  const raw: Record<string, string | undefined> = {
    COMFY_EDGE_URL: env.COMFY_EDGE_URL,
    COMFY_EDGE_ADMIN_TOKEN: env.COMFY_EDGE_ADMIN_TOKEN,
  };
  if (!raw.COMFY_EDGE_ADMIN_TOKEN) {
    const local = devVarsToken(cwd);
    if (local !== undefined) {
      const url = raw.COMFY_EDGE_URL ?? AdminConfig.shape.COMFY_EDGE_URL.parse(undefined);
      if (!isLoopbackUrl(url)) {
        throw new UsageError(
          `COMFY_EDGE_ADMIN_TOKEN is required for ${url}: the ADMIN_TOKEN in ./.dev.vars belongs to the local stack and is only sent to a gateway on this machine (127.0.0.1, localhost, ::1).`,
        );
      }
      raw.COMFY_EDGE_ADMIN_TOKEN = local;
    }
  }
  const parsed = AdminConfig.safeParse(raw);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join("; "));
  return parsed.data;
}
