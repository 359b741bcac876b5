// theory/: Monte-Carlo simulators of S1's Theorems 1–3 (the Gaussian models of §2.1 and §4.1) against the
// paper's bounds; `ltkit theory` prints and plots them.
export { simulateTheorem1, theorem1FailureBound } from './theorem1';
export type { Theorem1Options } from './theorem1';
export {
  simulateTheorem2,
  simulateTheorem3,
  theorem2Error,
  theorem2BestError,
  theorem3ErrorBound,
  theorem3Probability,
  THEOREM2_BOUND,
} from './theorem23';
export type { Theorem2Options, Theorem3Options, Theorem3Rows } from './theorem23';
export { theoryStudy, formatStudy, THEOREMS } from './studies';
export type { TheoryStudy, TheoremId } from './studies';
export type { TheoryRow } from './stats';
