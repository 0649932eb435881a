/**
 * CPU time (user + system, ms) of this process's workerd children, from /proc (Linux): a per-job cost that
 * holds when the machine is shared and wall-clock rates are noise.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_S = 100; // USER_HZ on Linux

export function workerdCpuMs(): number | null {
  let total = 0;
  let found = false;
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return null;
  }
  for (const pid of entries) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    // pid (comm) state ppid ... utime(14) stime(15)
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    if (!comm.startsWith("workerd") || Number(fields[1]) !== process.pid) continue;
    found = true;
    total += ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S;
  }
  return found ? total : null;
}
