// Transforms draw from ltkit's one seeded JS generator (src/util/rng.ts).
export { AugRng } from '../../util/rng';
