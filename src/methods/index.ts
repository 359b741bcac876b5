// methods/: the registered components recipes are made of (ARCHITECTURE.md "methods/"). Importing this
// module registers every component, in the order `ltkit list methods` prints them: losses, class-weight
// rules, samplers, feature hooks, classifier stages, unlabeled-data methods.
export * from './types';
export * from './registry';
import './loss-components';
import './rebalance';
import './mfw';
import './mixup';
import './crt';
import './tau-norm';
import './lws';
import './mean-teacher';
import './vat';
import './fixmatch';
import './ssp';
export { mfwStrength, mfwHook, stageOption } from './mfw';
export type { MfwOptions } from './mfw';
export { mixupHook, remixHook } from './mixup';
