/** What every page gets: the session, its route parameters and a signal aborted when the person leaves. */
import type { Session } from "./api.ts";

export interface PageContext {
  session: Session;
  /** Path segments after the page name: #/jobs/job_1 -> ["job_1"]. */
  params: string[];
  /** Query of the hash: #/jobs?status=failed. */
  query: URLSearchParams;
  signal: AbortSignal;
  /** The element the page renders into. */
  root: HTMLElement;
}

export type Page = (ctx: PageContext) => Promise<void> | void;
