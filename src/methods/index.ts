// methods/: composable parts of a recipe (MFW, mixup family, re-balancing rules, recipes).
export * from './types';
export { mfwStrength, mfwHook } from './mfw';
export type { MfwOptions } from './mfw';
export { mixupHook, remixHook } from './mixup';
export * from './rules';
export * from './recipe';
