// Many/medium/few-shot class groups and a class-count bar chart for `ltkit data inspect` (SPEC §6).
// Source: the split used by Liu et al., "Large-Scale Long-Tailed Recognition in an Open World" (OLTR,
// CVPR 2019) and by Kang et al. "Decoupling" / Yang & Xu (NeurIPS 2020): many-shot > 100 training images,
// medium-shot 20–100, few-shot < 20.

export type ShotGroup = 'many' | 'medium' | 'few';

export interface ShotThresholds {
  /** A class is many-shot when its count is > many (default 100). */
  many: number;
  /** A class is few-shot when its count is < few (default 20). */
  few: number;
}

export const DEFAULT_SHOT_THRESHOLDS: ShotThresholds = { many: 100, few: 20 };

export function shotGroup(count: number, t: ShotThresholds = DEFAULT_SHOT_THRESHOLDS): ShotGroup {
  if (count > t.many) return 'many';
  if (count < t.few) return 'few';
  return 'medium';
}

export interface ShotGroups {
  many: number[];
  medium: number[];
  few: number[];
  /** Group of each class (label order). */
  byClass: ShotGroup[];
}

/** Classes (label ids) per group from the TRAIN counts. */
export function shotGroups(trainCounts: ArrayLike<number>, t: ShotThresholds = DEFAULT_SHOT_THRESHOLDS): ShotGroups {
  const g: ShotGroups = { many: [], medium: [], few: [], byClass: [] };
  for (let c = 0; c < trainCounts.length; c++) {
    const s = shotGroup(trainCounts[c], t);
    g[s].push(c);
    g.byClass.push(s);
  }
  return g;
}

/** Class counts from integer labels (labels outside [0, numClasses) are ignored). */
export function classCounts(targets: ArrayLike<number>, numClasses: number): number[] {
  const out = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t >= 0 && t < numClasses) out[t]++;
  }
  return out;
}

/** Imbalance ratio max/min over non-empty classes (Infinity if some class is empty). */
export function imbalanceRatio(counts: ArrayLike<number>): number {
  let mx = 0;
  let mn = Infinity;
  for (let i = 0; i < counts.length; i++) {
    mx = Math.max(mx, counts[i]);
    mn = Math.min(mn, counts[i]);
  }
  return mn === 0 ? Infinity : mx / mn;
}
