/**
 * Job ids and the job's Durable Object: the one place that maps one to the other (gateway and consumer).
 *
 *   job_<26 chars>   current ids: lowercase Crockford base32 (0-9 a-z without i, l, o, u; 130 bits), short
 *                    enough to read aloud. The object is `idFromName(<the whole job id>)`.
 *   job_<64 hex>     ids issued before: the object's own hex id, so `idFromString(<hex>)`. They keep working.
 *
 * A job created with an Idempotency-Key gets an id derived from the key (base32 of SHA-256 of
 * `idem:<tenant>:<key>`), so the same key always names the same job and therefore the same object.
 */
const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";
const SHORT = /^job_[0-9abcdefghjkmnpqrstvwxyz]{26}$/;
const LEGACY = /^job_[0-9a-f]{64}$/;

/** Regex source matching either form of a job id (for ids embedded in other tokens, e.g. lease ids). */
export const JOB_ID_SOURCE = "job_(?:[0-9a-f]{64}|[0-9abcdefghjkmnpqrstvwxyz]{26})";

function base32(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < 26; i++) out += CROCKFORD[bytes[i]! & 31];
  return out;
}

/** A new random job id: `job_` + 26 base32 characters. */
export function newJobId(): string {
  return `job_${base32(crypto.getRandomValues(new Uint8Array(26)))}`;
}

/** The job id for an Idempotency-Key: the same (tenant, key) always gives the same id. */
export async function idempotentJobId(tenantId: string, key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`idem:${tenantId}:${key}`));
  return `job_${base32(new Uint8Array(digest))}`;
}

/** Whether `jobId` has the shape of a job id (either form). */
export function isJobId(jobId: string): boolean {
  return SHORT.test(jobId) || LEGACY.test(jobId);
}

/** What jobObjectId needs of a Durable Object namespace (structural, so this file builds without workers types). */
export interface ObjectIds<Id> {
  idFromName(name: string): Id;
  idFromString(id: string): Id;
}

/** The Durable Object id of job `jobId`, or null when it is not a job id. */
export function jobObjectId<Id>(ns: ObjectIds<Id>, jobId: string): Id | null {
  if (SHORT.test(jobId)) return ns.idFromName(jobId);
  if (!LEGACY.test(jobId)) return null;
  try {
    return ns.idFromString(jobId.slice(4));
  } catch {
    // 64 hex digits that this namespace never issued.
    return null;
  }
}
