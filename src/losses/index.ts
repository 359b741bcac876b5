// losses/: the loss registry. `create(name, options)` returns a Criterion — a function (logits, targets) =>
// scalar loss with `.name`, `.options`, `.setWeight(w | null)` for DRW, and `.dispose()`.
//     const crit = lt.losses.create('ldam', { clsNumList });      // LDAM-DRW: no weight until 80% of epochs,
//     crit.setWeight(lt.losses.cbWeights(clsNumList, 0.9999));     // then CB weights (SPEC §3)
// Names are the SPEC's vocabulary; each entry's file cites its paper and the reference code it mirrors.
import { Criterion, WeightInput } from './criterion';
import { crossEntropy } from './cross-entropy';
import { focal, DEFAULT_FOCAL_GAMMA } from './focal';
import { ldam, DEFAULT_LDAM_MAX_MARGIN, DEFAULT_LDAM_SCALE } from './ldam';
import { balancedSoftmax } from './balanced-softmax';
import { logitAdjusted, DEFAULT_LOGIT_ADJUST_TAU } from './logit-adjusted';

export type { Criterion, WeightInput, LossBody } from './criterion';
export { makeCriterion } from './criterion';
export { cbWeights, DEFAULT_CB_BETA } from './cb-weights';
export { crossEntropy } from './cross-entropy';
export { focal, DEFAULT_FOCAL_GAMMA } from './focal';
export { ldam, ldamMargins, DEFAULT_LDAM_MAX_MARGIN, DEFAULT_LDAM_SCALE } from './ldam';
export { balancedSoftmax } from './balanced-softmax';
export { logitAdjusted, DEFAULT_LOGIT_ADJUST_TAU } from './logit-adjusted';
export { logPrior } from './prior-adjusted';

/** Options accepted by `create`; each loss reads the ones listed in its registry entry. */
export interface LossOptions {
  clsNumList?: ArrayLike<number>;
  weight?: WeightInput | null;
  gamma?: number;
  maxMargin?: number;
  s?: number;
  tau?: number;
}
export type LossOptionName = keyof LossOptions;

export interface LossEntry {
  name: string;
  /** One line for `list()` and the CLI. */
  help: string;
  /** Options this loss reads; any other option passed to `create` is an error. */
  options: readonly LossOptionName[];
  /** Options that must be given. */
  required: readonly LossOptionName[];
  build(opts: LossOptions): Criterion;
}

const registry = new Map<string, LossEntry>();

/** Adds a loss to the registry; a duplicate name is refused. */
export function register(entry: LossEntry): void {
  if (registry.has(entry.name)) throw new Error(`loss '${entry.name}' is already registered`);
  for (const r of entry.required) {
    if (!entry.options.includes(r)) throw new Error(`loss '${entry.name}': required option '${r}' is not an option`);
  }
  registry.set(entry.name, entry);
}

function describe(e: LossEntry): string {
  const opts = e.options.map((o) => (e.required.includes(o) ? `${o} (required)` : o)).join(', ');
  return `'${e.name}' {${opts}}`;
}

/** Builds a criterion by name, e.g. `create('focal', { gamma: 2, weight })`. */
export function create(name: string, opts: LossOptions = {}): Criterion {
  const e = registry.get(name);
  if (e === undefined) {
    const known = [...registry.values()].map(describe).join('; ');
    throw new Error(`unknown loss '${name}'; available: ${known}`);
  }
  for (const [k, v] of Object.entries(opts)) {
    if (v !== undefined && !e.options.includes(k as LossOptionName)) {
      throw new Error(`loss '${name}' has no option '${k}'; its options: ${e.options.join(', ')}`);
    }
  }
  for (const r of e.required) {
    if (opts[r] === undefined || opts[r] === null) {
      throw new Error(`loss '${name}' needs option '${r}'; its options: ${describe(e)}`);
    }
  }
  return e.build(opts);
}

/** Registered losses with a one-line description each, in registration order. */
export function list(): { name: string; help: string; options: readonly string[]; required: readonly string[] }[] {
  return [...registry.values()].map(({ name, help, options, required }) => ({ name, help, options, required }));
}

export function has(name: string): boolean {
  return registry.has(name);
}

const counts = (o: LossOptions): ArrayLike<number> => o.clsNumList as ArrayLike<number>;

register({
  name: 'ce',
  help: 'cross-entropy; optional per-class weight gives the weighted mean Σw_y·ℓ/Σw_y (CB / DRW)',
  options: ['weight'],
  required: [],
  build: (o) => crossEntropy({ weight: o.weight }),
});
register({
  name: 'focal',
  help: `focal loss (Lin et al. 2017) in the LDAM-DRW form mean((1−e^{−ce_i})^γ·ce_i), γ=${DEFAULT_FOCAL_GAMMA}`,
  options: ['gamma', 'weight'],
  required: [],
  build: (o) => focal({ gamma: o.gamma, weight: o.weight }),
});
register({
  name: 'ldam',
  help:
    `LDAM (Cao et al. 2019): margin ∝ n_c^{-1/4} (max ${DEFAULT_LDAM_MAX_MARGIN}) on the true cosine logit, ` +
    `scale s=${DEFAULT_LDAM_SCALE}; use with the NormedLinear head`,
  options: ['clsNumList', 'maxMargin', 's', 'weight'],
  required: ['clsNumList'],
  build: (o) => ldam({ clsNumList: counts(o), maxMargin: o.maxMargin, s: o.s, weight: o.weight }),
});
register({
  name: 'balanced-softmax',
  help: 'Balanced Softmax (Ren et al. 2020): cross-entropy on logits + log(n_c/N)',
  options: ['clsNumList', 'weight'],
  required: ['clsNumList'],
  build: (o) => balancedSoftmax({ clsNumList: counts(o), weight: o.weight }),
});
register({
  name: 'logit-adjusted',
  help: `logit-adjusted loss (Menon et al. 2021): cross-entropy on logits + τ·log(prior), τ=${DEFAULT_LOGIT_ADJUST_TAU}`,
  options: ['clsNumList', 'tau', 'weight'],
  required: ['clsNumList'],
  build: (o) => logitAdjusted({ clsNumList: counts(o), tau: o.tau, weight: o.weight }),
});
