/** The names closest to a wrong one (pure): for messages like "did you mean ...". */

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** Up to `n` of `candidates`, nearest first (case-insensitive edit distance on at most 2,000 of them). */
export function closest(name: string, candidates: Iterable<string>, n = 3): string[] {
  const target = name.toLowerCase().slice(0, 200);
  const scored: Array<[number, string]> = [];
  let seen = 0;
  for (const c of candidates) {
    if (seen++ >= 2000) break;
    scored.push([distance(target, c.toLowerCase().slice(0, 200)), c]);
  }
  scored.sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : 1));
  return scored.slice(0, n).map(([, c]) => c);
}

/** `'a', 'b' or 'c'` for a message. */
export function quoteList(names: string[]): string {
  const q = names.map((n) => `'${n}'`);
  return q.length <= 1 ? (q[0] ?? "") : `${q.slice(0, -1).join(", ")} or ${q[q.length - 1]}`;
}
