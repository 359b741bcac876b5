// Recipes: methods composed by name, e.g. `ldam+drw`, `mfw+drw`, `focal+reweight`, `ce+drs+crt`.
// Each component contributes to named slots (ARCHITECTURE.md "methods/"); a slot holds at most one
// component, so `reweight+drw` (two classWeights rules) or `mfw+mixup` (two feature hooks) are
// rejected with the reason. The trainer reads slots, never component names.
import { mfwHook } from './mfw';
import { mixupHook, remixHook } from './mixup';
import type { FeatureHook, Stage } from './types';
import { STAGES } from './types';
import type { RuleName } from './rules';

export type Slot = 'loss' | 'classWeights' | 'sampler' | 'features' | 'classifier';

export interface ComponentInfo {
  name: string;
  slot: Slot;
  help: string;
}

export const COMPONENTS: ComponentInfo[] = [
  { name: 'ce', slot: 'loss', help: 'cross-entropy (optionally class-weighted)' },
  {
    name: 'focal',
    slot: 'loss',
    help: 'focal loss, reference form (1 − e^{−ce})^γ · ce (Lin et al. 2017), γ = method.gamma',
  },
  {
    name: 'ldam',
    slot: 'loss',
    help: 'LDAM margins ∝ n^{-1/4}, max 0.5, scale 30, NormedLinear head (Cao et al. 2019)',
  },
  { name: 'balanced-softmax', slot: 'loss', help: 'CE on logits + log prior (Ren et al. 2020)' },
  { name: 'logit-adjusted', slot: 'loss', help: 'CE on logits + τ·log prior (Menon et al. 2021), τ = method.tau' },
  { name: 'reweight', slot: 'classWeights', help: 'class-balanced weights (β = 0.9999) from the first epoch' },
  { name: 'drw', slot: 'classWeights', help: 'deferred re-weighting: CB weights after deferFraction of the epochs' },
  { name: 'resample', slot: 'sampler', help: 'class-balanced sampling with replacement from the first epoch' },
  { name: 'drs', slot: 'sampler', help: 'deferred re-sampling: class-balanced sampling after deferFraction' },
  { name: 'mfw', slot: 'features', help: 'Major Feature Weakening (Ye et al. ICCV 2021), after method.mfw.stage' },
  { name: 'mixup', slot: 'features', help: 'mixup of inputs and labels (Zhang et al. 2018)' },
  { name: 'manifold-mixup', slot: 'features', help: 'mixup of hidden activations and labels (Verma et al. 2019)' },
  { name: 'remix', slot: 'features', help: 'Remix: label coefficient favours the minor class (Chou et al. 2020)' },
  { name: 'crt', slot: 'classifier', help: 'classifier re-training: frozen backbone, new head, class-aware sampling' },
  { name: 'tau-norm', slot: 'classifier', help: 'τ-normalised classifier weights, τ swept after training' },
  { name: 'lws', slot: 'classifier', help: 'learnable per-class logit scales on a frozen model' },
];

export type LossName = 'ce' | 'focal' | 'ldam' | 'balanced-softmax' | 'logit-adjusted';
export type ClassifierStage = 'crt' | 'tau-norm' | 'lws';

/** Options of the components (config key `method`). */
export interface MethodOptions {
  recipe: string;
  gamma: number;
  maxMargin: number;
  s: number;
  tau: number;
  cbBeta: number;
  deferFraction: number;
  mfw: { alpha: number; beta: number | 'auto'; stage: Stage };
  mixup: { alpha: number; stages: Stage[] };
  remix: { alpha: number; kappa: number; tau: number };
  crt: { epochs: number; lr: number; samplesPerClass: number };
  tauNorm: { taus: number[] };
  lws: { epochs: number; lr: number };
}

export interface Recipe {
  text: string;
  components: string[];
  loss: LossName;
  classWeightsRule: RuleName;
  samplerRule: RuleName;
  features: FeatureHook | null;
  classifier: ClassifierStage | null;
  /** LDAM needs the cosine (NormedLinear) head. */
  normedLinear: boolean;
}

export class RecipeError extends Error {}

/** Parses and checks a recipe string; `imbType` picks MFW's β when it is 'auto'. */
export function parseRecipe(opts: MethodOptions, imbType: 'exp' | 'step' = 'exp'): Recipe {
  const text = opts.recipe.trim();
  const names = text
    .split('+')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new RecipeError(`method.recipe is empty (e.g. 'ce', 'ldam+drw', 'mfw+drw')`);
  const bySlot = new Map<Slot, string>();
  for (const n of names) {
    const info = COMPONENTS.find((c) => c.name === n);
    if (!info) {
      throw new RecipeError(
        `method.recipe '${text}': unknown component '${n}' (allowed: ${COMPONENTS.map((c) => c.name).join(', ')})`,
      );
    }
    const prev = bySlot.get(info.slot);
    if (prev !== undefined) {
      throw new RecipeError(
        `method.recipe '${text}': '${prev}' and '${n}' both fill the '${info.slot}' slot; ` +
          `a recipe takes one ${info.slot === 'loss' ? 'loss' : info.slot + ' component'}`,
      );
    }
    bySlot.set(info.slot, n);
  }
  const loss = (bySlot.get('loss') ?? 'ce') as LossName;
  const feat = bySlot.get('features');
  let features: FeatureHook | null = null;
  if (feat === 'mfw') {
    if (!STAGES.includes(opts.mfw.stage)) {
      throw new RecipeError(`method.mfw.stage '${opts.mfw.stage}' (allowed: ${STAGES.join(', ')})`);
    }
    const beta = opts.mfw.beta === 'auto' ? (imbType === 'step' ? 0.01 : 2.0) : opts.mfw.beta;
    features = mfwHook({ alpha: opts.mfw.alpha, beta, stage: opts.mfw.stage });
  } else if (feat === 'mixup') {
    features = mixupHook({ alpha: opts.mixup.alpha, stages: ['input'] });
  } else if (feat === 'manifold-mixup') {
    features = mixupHook({ alpha: opts.mixup.alpha, stages: opts.mixup.stages, name: 'manifold-mixup' });
  } else if (feat === 'remix') {
    features = remixHook(opts.remix);
  }
  return {
    text,
    components: names,
    loss,
    classWeightsRule: (bySlot.get('classWeights') ?? 'none') as RuleName,
    samplerRule: (bySlot.get('sampler') ?? 'none') as RuleName,
    features,
    classifier: (bySlot.get('classifier') ?? null) as ClassifierStage | null,
    normedLinear: loss === 'ldam',
  };
}
