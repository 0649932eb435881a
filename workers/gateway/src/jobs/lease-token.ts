/**
 * Lease ids: an HMAC token over (job, attempt), so the gateway routes a runner's call straight to the
 * job's Durable Object without a lookup, and the DO fences on the attempt.
 *   ls_<job id>_<attempt>_<tag>   tag = base64url(HMAC-SHA256(SIGNING_SECRET, "lease:<job>:<attempt>"))[0..22]
 */
import { bytesEqual, hmacSha256, toBase64Url } from "../../../shared/crypto.ts";

async function tag(secret: string, jobId: string, attempt: number): Promise<string> {
  return toBase64Url(await hmacSha256(secret, `lease:${jobId}:${attempt}`)).slice(0, 22);
}

export async function leaseId(secret: string, jobId: string, attempt: number): Promise<string> {
  return `ls_${jobId}_${attempt}_${await tag(secret, jobId, attempt)}`;
}

export async function parseLeaseId(secret: string, id: string): Promise<{ jobId: string; attempt: number } | null> {
  const m = /^ls_(job_[0-9a-f]{64})_(\d{1,6})_([A-Za-z0-9_-]{22})$/.exec(id);
  if (!m) return null;
  const attempt = Number(m[2]);
  const expected = await tag(secret, m[1]!, attempt);
  const enc = new TextEncoder();
  return bytesEqual(enc.encode(expected), enc.encode(m[3]!)) ? { jobId: m[1]!, attempt } : null;
}
