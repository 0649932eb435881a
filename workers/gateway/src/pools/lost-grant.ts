/**
 * Lost grants: a runner that dies in the middle of its long poll leaves the poll registered in its pool.
 * Before the pool answers a poll that has been waiting it asks the poll's handler (a callback passed over
 * RPC) whether its caller is still there; workerd cancels the handler of a client that hung up, so the call
 * fails. The pool then gives the job back instead of leaving it "running" on nobody until lease expiry.
 */

/** Asked just before a waiting poll is answered: is its caller still there? Throws when the handler is gone. */
export type PollAlive = () => boolean | Promise<boolean>;

/** How long the pool waits for that answer before it takes the caller for gone. */
export const ALIVE_CHECK_MS = 2000;

/** Whether a waiting poll's caller is still there to take a grant (a poll without the check: yes). */
export async function callerAlive(alive: PollAlive | undefined, timeoutMs = ALIVE_CHECK_MS): Promise<boolean> {
  if (!alive) return true;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const gone = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve(alive()).then((a) => a === true), gone]);
  } catch {
    return false;
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}
