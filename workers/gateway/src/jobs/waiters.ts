/** Callers parked on a job object until a condition holds after a commit (or a timeout passes). */
export class Waiters {
  private checks = new Set<() => void>();

  /** Resolves once `done()` holds (checked now and after every commit) or after `ms`. */
  wait(ms: number, done: () => boolean): Promise<void> {
    if (ms <= 0 || done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.checks.delete(check);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, ms);
      this.checks.add(check);
    });
  }

  /** Re-checks every parked caller (after a commit). */
  check(): void {
    for (const c of [...this.checks]) c();
  }
}
