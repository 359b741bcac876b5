// FMNIST-LT (SPEC §1.3): the SVHN-LT recipe applied to Fashion-MNIST from Debian's
// dataset-fashion-mnist — img_max 1000, natural class order (class 0 is the head), exp or step
// profile, reference-compatible seeded selection; test = the balanced 10k test set. The training
// images the subset leaves unused are the relevant unlabeled pool (DU@k×, ratio ρU; true labels are
// kept only for evaluating pseudo-labels).
import { loadSource } from './sources';
import type { ImageSource } from './sources/types';
import { selectLongTail, Selection } from './longtail';
import { buildUnlabeledPool, UnlabeledPool } from './longtail/pools';
import { catalogEntry, catalogCounts } from './catalog';

export interface FmnistLtOptions {
  rho?: number;
  type?: 'exp' | 'step';
  seed?: number;
  root?: string;
  /** Build the unlabeled pool too: DU@k× (paper k = 5) with unlabeled imbalance ρU. */
  unlabeled?: { k?: number; rhoU?: number };
}

export interface FmnistLt {
  train: ImageSource;
  test: ImageSource;
  counts: number[];
  labeled: Selection;
  pool: UnlabeledPool | null;
}

export function fmnistLT(o: FmnistLtOptions = {}): FmnistLt {
  const entry = catalogEntry('fmnist-lt');
  const root = o.root ?? entry.defaultRoot;
  const train = loadSource(entry.source, { root, split: 'train' });
  const test = loadSource(entry.source, { root, split: entry.testSplit });
  const counts = catalogCounts(entry.name, o.rho ?? 100, o.type ?? 'exp');
  const labeled = selectLongTail(train.targets, counts, { seed: o.seed ?? 0, mode: 'reference' });
  const pool = o.unlabeled
    ? buildUnlabeledPool({
        targets: train.targets,
        numClasses: entry.numClasses,
        labeled: labeled.indices,
        k: o.unlabeled.k ?? 5,
        rhoU: o.unlabeled.rhoU ?? 1,
        rng: labeled.rng, // continue the labeled selection's stream, as the reference does
      })
    : null;
  return { train, test, counts, labeled, pool };
}
