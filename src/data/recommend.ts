// `recommend`: a sound starting recipe for a user's own data, picked from its long-tail profile (issue 13,
// item 3). Deterministic rules, each resting on a published comparison; the first rule that applies wins.
//
// The profile: C classes, N images, ρ = max / min count (SPEC §1.1), the fraction of few-shot classes
// (< 20 images, the many / medium / few split of SPEC §6 and groups.ts), and the shape of the imbalance —
// "step" when one jump between two adjacent class sizes (sorted) carries most of ρ (S2's step setting),
// else "long-tailed" (a smooth decay).
//
//   1. ρ < 3                        → ce        Nearly balanced. Re-balancing corrects a prior that is almost
//      uniform: the gains shrink with ρ in every table — at ρ = 10 LDAM-DRW gains 1.8 points over CE on
//      CIFAR-10-LT (SPEC §7: 13.61 → 11.84 % error) against 6.7 points at ρ = 100 (29.64 → 22.97), and
//      S2 Table 1 (ρ = 10): ERM 87.2 vs MFW w/ DRW 89.7. Below ρ = 3 no table shows a gain worth a method.
//   2. C ≥ 100 and N ≥ 50,000       → ce+crt    Large scale (ImageNet-LT: 1000 classes / 115.8k images,
//      Places-LT 365 / 62.5k, iNaturalist 2018 8142 / 437.5k). Decoupled classifier re-training on a CE
//      (instance-sampled) representation is the large-scale reference (Kang et al., ICLR 2020, Table 2)
//      and the strongest non-SSP row of S1's large-scale tables: ImageNet-LT (S1 Table 3, top-1 error)
//      ResNet-10 CE 65.2 / balanced CE 62.9 / OLTR 64.4 / cRT 58.2, ResNet-50 61.6 / 59.7 / 62.6 / 52.7;
//      iNaturalist 2018 (S1 Table 4) CE 39.3 / balanced 36.5 / LDAM-DRW 35.4 / cRT 34.8. LWS (`ce+lws`)
//      is Kang et al.'s close alternative. (The issue cites these as "S1 Tables 4–5"; in the paper's text
//      they are Tables 3 and 4.)
//   3. step-shaped, C ≥ 4           → mfw+drw   S2's strongest case: MFW w/ DRW is best in five of the six
//      step columns of S2 Table 1 and 0.2 behind τ-norm in the sixth (CIFAR-100 ρ = 200) — CIFAR-10 step
//      ρ = 200 / 100 / 10: 78.8 / 81.6 / 89.9 vs LDAM-DRW 73.6 / 76.9 / 87.8; CIFAR-100 step 43.0 / 48.4 /
//      61.6 vs 42.4 / 45.4 / 59.5 — and on step Tiny-ImageNet (Table 2, ρ = 10: 54.3 vs 52.6) and step
//      Tiered-ImageNet (Table 3: 46.4 vs cRT 44.4, LDAM 42.3). The reason names `method.mfw.beta=0.01`,
//      S2's step softness (§5.2), since own data carry no imbalance type. This rule comes before rule 4:
//      S2's step settings are often mostly few-shot (CIFAR-100 step ρ = 100: 50 classes of 5 images), and
//      MFW w/ DRW still beats the decoupled τ-norm / cRT there (S2 Tables 1 and 3).
//   4. ≥ 50 % of classes few-shot   → ce+crt    Most classes have < 20 images: a jointly re-weighted loss
//      (DRW, LDAM margins) rests on a handful of images per class, while decoupling learns the
//      representation from all images with instance sampling and only re-balances the classifier, with
//      class-aware sampling — the setting where Kang et al. report their largest few-shot gains (Table 2's
//      few-shot column). The threshold is ours: CIFAR-100-LT ρ = 100 has 30 % few-shot classes and stays
//      with rule 5, where S2 Table 1 shows MFW w/ DRW ahead.
//   5. long-tailed, C ≤ 100         → mfw+drw   S2 Table 1 long-tailed columns: MFW w/ DRW 75.0 / 79.8 / 89.7
//      vs LDAM-DRW 74.6 / 77.0 / 88.2 on CIFAR-10 (ρ = 200 / 100 / 10) and 41.4 / 46.0 / 59.1 vs
//      39.5 / 42.0 / 58.7 on CIFAR-100 (the ρ = 100 values are SPEC §7's S2 anchors).
//   6. long-tailed, C > 100         → ldam+drw  With many classes and a smooth tail LDAM-DRW leads: S2 Table 2
//      (Tiny-ImageNet, 200 classes, long-tailed ρ = 100) 37.5 vs MFW w/ DRW 36.2 (tied at 52.8 for ρ = 10);
//      S2 Table 4 (iNaturalist, 90 epochs) 68.0 vs 66.7 and cRT 65.2 — when the data are below rule 2's size.
//
// Kang et al. ("Decoupling Representation and Classifier for Long-Tailed Recognition") is not in papers/; its
// table is cited as the issue cites it. Every S1 / S2 / SPEC figure above is checked against papers/ and SPEC.
//
// A strongly imbalanced profile (ρ ≥ 50) gets one more sentence: S1 (Tables 2–4) finds self-supervised
// pre-training improves every base method, more as ρ grows — `ssp-rotation+…` for small images, `ssp-moco+…`
// for large ones.
import { DEFAULT_SHOT_THRESHOLDS } from './longtail/groups';

export interface Recommendation {
  /** A recipe for `method.recipe`, e.g. 'mfw+drw'. */
  recipe: string;
  /** One or two sentences: the profile numbers that decided, and the evidence. */
  reason: string;
}

/** The thresholds of the rules above (exported for the tests and the documentation). */
export const RECOMMEND_RULES = {
  /** Rule 1: ρ below this counts as (nearly) balanced. */
  balancedRho: 3,
  /** Rule 2: at least this many classes … */
  largeClasses: 100,
  /** … and at least this many images make a large-scale data set. */
  largeImages: 50_000,
  /** Rule 3: a step profile has one jump between sorted adjacent class sizes carrying ≥ this share of ln ρ. */
  stepShare: 0.75,
  /** Rule 3 needs at least this many classes (with 2–3 classes every profile is a step). */
  stepMinClasses: 4,
  /** Rule 4: at least this fraction of few-shot classes (< DEFAULT_SHOT_THRESHOLDS.few images). */
  fewShotFraction: 0.5,
  /** Rules 5 / 6: long-tailed data with more classes than this get LDAM-DRW. */
  manyClasses: 100,
  /** The SSP sentence is added from this ρ on. */
  sspRho: 50,
} as const;

/** 12,406 / 2.50 / 1,235 (integers and values ≥ 100 rounded, with thousands separators). */
const fmt = (x: number): string =>
  Number.isInteger(x) || x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3);

/**
 * A recipe for a data set with `counts[c]` training images in class c (label order; any order works).
 * Throws a RangeError for fewer than two classes or a count that is not a positive integer: every class
 * needs at least one image.
 */
export function recommend(counts: number[]): Recommendation {
  if (!Array.isArray(counts) || counts.length < 2) {
    throw new RangeError(`recommend: need the image counts of at least 2 classes, got ${counts?.length ?? counts}`);
  }
  const bad = counts.findIndex((n) => !Number.isInteger(n) || n < 1);
  if (bad >= 0) {
    throw new RangeError(
      `recommend: class ${bad} has ${counts[bad]} images; every class needs a positive integer count`,
    );
  }
  const R = RECOMMEND_RULES;
  const C = counts.length;
  const N = counts.reduce((a, b) => a + b, 0);
  const sorted = [...counts].sort((a, b) => b - a);
  const max = sorted[0];
  const min = sorted[C - 1];
  const rho = max / min;
  const few = counts.filter((n) => n < DEFAULT_SHOT_THRESHOLDS.few).length;
  let jump = 1;
  for (let i = 0; i + 1 < C; i++) jump = Math.max(jump, sorted[i] / sorted[i + 1]);
  const step = C >= R.stepMinClasses && rho > 1 && Math.log(jump) >= R.stepShare * Math.log(rho);
  const profile = `${fmt(C)} classes, ${fmt(N)} images, ρ = ${fmt(rho)} (max ${fmt(max)}, min ${fmt(min)})`;
  const ssp =
    rho >= R.sspRho
      ? ' With ρ ≥ 50, self-supervised pre-training helps every base method (S1 Tables 2–4; rotation on small images, MoCo on large): prefix ' +
        `ssp-${N >= R.largeImages ? 'moco' : 'rotation'}+.`
      : '';

  if (rho < R.balancedRho) {
    return {
      recipe: 'ce',
      reason:
        `${profile}: nearly balanced (ρ < ${R.balancedRho}); re-balancing gains shrink with ρ ` +
        '(SPEC §7, S2 Table 1) and plain cross-entropy is the sound choice.',
    };
  }
  if (C >= R.largeClasses && N >= R.largeImages) {
    return {
      recipe: 'ce+crt',
      reason:
        `${profile}: large scale (≥ ${R.largeClasses} classes, ≥ ${fmt(R.largeImages)} images); decoupled ` +
        'classifier re-training on a CE representation is the best non-SSP method on ImageNet-LT and ' +
        'iNaturalist (S1 Tables 3–4; Kang et al. 2020, Table 2); ce+lws is the close alternative.' +
        ssp,
    };
  }
  if (step) {
    return {
      recipe: 'mfw+drw',
      reason:
        `${profile}: step-shaped (one jump of ×${fmt(jump)} between class sizes); MFW w/ DRW leads the step ` +
        'settings of S2 (Tables 1–3). Set method.mfw.beta=0.01 (S2 §5.2, step) and tune method.mfw.alpha ' +
        'on the validation split.' +
        ssp,
    };
  }
  if (few / C >= R.fewShotFraction) {
    return {
      recipe: 'ce+crt',
      reason:
        `${profile}: ${fmt(few)} of ${fmt(C)} classes (${Math.round((100 * few) / C)} %) have < ` +
        `${DEFAULT_SHOT_THRESHOLDS.few} images; learn the representation from all images and re-balance ` +
        'only the classifier with class-aware sampling (Kang et al. 2020, Table 2, few-shot column).' +
        ssp,
    };
  }
  if (C <= R.manyClasses) {
    return {
      recipe: 'mfw+drw',
      reason:
        `${profile}: long-tailed; MFW w/ DRW leads LDAM-DRW on long-tailed CIFAR-10/100 at every ρ (S2 Table 1). ` +
        'Tune method.mfw.alpha on the validation split.' +
        ssp,
    };
  }
  return {
    recipe: 'ldam+drw',
    reason:
      `${profile}: long-tailed with > ${R.manyClasses} classes; LDAM-DRW leads MFW w/ DRW there ` +
      '(S2 Table 2, Tiny-ImageNet ρ = 100; S2 Table 4, iNaturalist).' +
      ssp,
  };
}
