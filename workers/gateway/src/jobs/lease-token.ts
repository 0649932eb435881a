/**
 * Lease ids: an HMAC token over (job, attempt), so the gateway routes a runner's call straight to the
 * job's Durable Object without a lookup, and the DO fences on the attempt.
 *   ls_<job id>_<attempt>_<tag>   tag = base64url(HMAC-SHA256(secret, "lease:<job>:<attempt>"))[0..22]
 * `secret` is the current secret of the SIGNING_SECRET key ring (shared/signing-keys.ts); a lease signed
 * with any secret still in the ring verifies, so rotating the secret does not end running jobs.
 */
import { bytesEqual, hmacSha256, toBase64Url } from "@comfy-edge/shared/crypto";
import { JOB_ID_SOURCE } from "@comfy-edge/shared/job-id";
import { ringSecrets } from "@comfy-edge/shared/signing-keys";

const LEASE = new RegExp(`^ls_(${JOB_ID_SOURCE})_(\\d{1,6})_([A-Za-z0-9_-]{22})$`);

async function tag(secret: string, jobId: string, attempt: number): Promise<string> {
  return toBase64Url(await hmacSha256(secret, `lease:${jobId}:${attempt}`)).slice(0, 22);
}

export async function leaseId(secret: string, jobId: string, attempt: number): Promise<string> {
  return `ls_${jobId}_${attempt}_${await tag(ringSecrets(secret)[0]!, jobId, attempt)}`;
}

export async function parseLeaseId(secret: string, id: string): Promise<{ jobId: string; attempt: number } | null> {
  const m = LEASE.exec(id);
  if (!m) return null;
  const attempt = Number(m[2]);
  const enc = new TextEncoder();
  for (const s of ringSecrets(secret)) {
    if (bytesEqual(enc.encode(await tag(s, m[1]!, attempt)), enc.encode(m[3]!))) return { jobId: m[1]!, attempt };
  }
  return null;
}
