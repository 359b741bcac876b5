// The long-tail profile of a training set, printed when training on streamed/own data starts: the class
// counts sorted (head … tail), the imbalance ratio ρ = n_max / n_min (SPEC §1.1), and how many classes fall in
// the many / medium / few-shot groups (train count > 100 / 20–100 / < 20, SPEC §6; the OLTR/decoupling split).

export interface LongTailProfile {
  numClasses: number;
  total: number;
  /** Counts sorted from the largest class down. */
  sorted: number[];
  rho: number;
  many: number;
  medium: number;
  few: number;
}

export function countsProfile(counts: readonly number[]): LongTailProfile {
  const sorted = [...counts].sort((a, b) => b - a);
  const nonzero = sorted.filter((n) => n > 0);
  const max = nonzero[0] ?? 0;
  const min = nonzero[nonzero.length - 1] ?? 0;
  return {
    numClasses: counts.length,
    total: counts.reduce((a, b) => a + b, 0),
    sorted,
    rho: min > 0 ? max / min : Infinity,
    many: counts.filter((n) => n > 100).length,
    medium: counts.filter((n) => n >= 20 && n <= 100).length,
    few: counts.filter((n) => n < 20).length,
  };
}

/** The profile as log lines (long count lists are shortened to their head and tail). */
export function formatProfile(
  p: LongTailProfile,
  classNames?: readonly string[],
  counts?: readonly number[],
): string[] {
  const shown =
    p.sorted.length <= 24
      ? p.sorted.join(' ')
      : `${p.sorted.slice(0, 12).join(' ')} … ${p.sorted.slice(-12).join(' ')}`;
  const lines = [
    `[ltkit] long-tail profile: ${p.numClasses} classes, ${p.total} training images, ρ = n_max/n_min = ` +
      `${Number.isFinite(p.rho) ? p.rho.toFixed(1) : '∞ (a class has no image)'}`,
    `[ltkit]   counts, largest first: ${shown}`,
    `[ltkit]   many-shot (>100): ${p.many} classes, medium (20–100): ${p.medium}, few-shot (<20): ${p.few}`,
  ];
  if (classNames && counts && counts.length <= 24) {
    const order = counts.map((n, c) => [n, c]).sort((a, b) => b[0] - a[0]);
    lines.push(`[ltkit]   per class: ${order.map(([n, c]) => `${classNames[c] ?? c} ${n}`).join(', ')}`);
  }
  return lines;
}
