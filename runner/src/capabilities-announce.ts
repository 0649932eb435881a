/**
 * Which of a slot's capability reports the gateway has heard of (docs/models.md): the model files change
 * (a generation), the slot leases with a report built after the change, and once the gateway answers that
 * lease the change is announced. The runner says ready only after the synced files are announced.
 */
export class CapabilityAnnouncements {
  /** Changes of this host's model files. */
  private generation = 0;
  private announcedGeneration = -1;
  private waiters: Array<() => void> = [];
  /** The digest of the last lease the gateway answered (undefined: none yet; null: leased without one). */
  private acked: string | null | undefined = undefined;

  /** The model files changed. */
  changed(): void {
    this.generation += 1;
  }

  /** Before a lease: the generation the report about to be built covers. */
  get current(): number {
    return this.generation;
  }

  /** Whether a lease with `digest` tells the gateway something new (then it is a short one, wait_s 0). */
  isNew(digest: string | null): boolean {
    return digest !== this.acked;
  }

  /** The gateway answered a lease made with `digest`, built at `generation`. */
  acknowledged(digest: string | null, generation: number): void {
    this.acked = digest;
    this.announce(generation);
  }

  /** `generation` is known to the gateway (its report is the one the gateway already has). */
  announce(generation: number): void {
    if (generation <= this.announcedGeneration) return;
    this.announcedGeneration = generation;
    for (const check of this.waiters.splice(0)) check();
  }

  /** Resolves once the changes made so far are announced; rejects when the signal aborts. */
  whenAnnounced(signal: AbortSignal): Promise<void> {
    const wanted = this.generation;
    if (this.announcedGeneration >= wanted) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      const check = () => {
        if (this.announcedGeneration < wanted) return void this.waiters.push(check);
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      this.waiters.push(check);
    });
  }
}
