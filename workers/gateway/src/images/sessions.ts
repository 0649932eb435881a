/**
 * Multi-turn edit sessions in D1 (migration 0011, STORAGE.md "Image edit sessions"): per tenant, the
 * turns with their prompts and the R2 keys of their outputs; a session expires SESSION_TTL_MS after its
 * last turn (an expired row is treated as absent and removed when read).
 */

import { ApiError } from "@comfy-edge/shared/errors";
import { z } from "zod";
import { SessionTurn } from "./params.ts";

export const SESSION_TTL_MS = 24 * 3600 * 1000;
const MAX_TURNS = 50;

export interface EditSession {
  id: string;
  model: string;
  turns: SessionTurn[];
  created_at: number;
  expires_at: number;
}

export function newSessionId(): string {
  return `isess_${crypto.randomUUID().replaceAll("-", "")}`;
}

export async function readSession(
  db: D1Database,
  tenantId: string,
  id: string,
  now = Date.now(),
): Promise<EditSession | null> {
  const row = await db
    .prepare("SELECT id, model, turns, created_at, expires_at FROM image_sessions WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, id)
    .first<{ id: string; model: string; turns: string; created_at: number; expires_at: number }>();
  if (!row) return null;
  if (row.expires_at <= now) {
    await db.prepare("DELETE FROM image_sessions WHERE tenant_id = ? AND id = ?").bind(tenantId, id).run();
    return null;
  }
  return { ...row, turns: z.array(SessionTurn).parse(JSON.parse(row.turns)) };
}

export function sessionNotFound(id: string): ApiError {
  return new ApiError(
    404,
    "edit_session_not_found",
    `edit_session: no session '${id.slice(0, 100)}' for this API key's tenant (sessions expire 24 h after their last turn). Leave edit_session out to start one.`,
    { param: "edit_session" },
  );
}

/** Writes the session with its turns (the last MAX_TURNS), refreshing its expiry. */
export async function saveSession(db: D1Database, tenantId: string, s: EditSession, now = Date.now()): Promise<number> {
  const expires = now + SESSION_TTL_MS;
  await db
    .prepare(
      `INSERT INTO image_sessions (tenant_id, id, model, turns, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, id) DO UPDATE SET model = excluded.model, turns = excluded.turns,
         updated_at = excluded.updated_at, expires_at = excluded.expires_at`,
    )
    .bind(tenantId, s.id, s.model, JSON.stringify(s.turns.slice(-MAX_TURNS)), s.created_at, now, expires)
    .run();
  return expires;
}
