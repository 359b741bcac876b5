// methods/: the registered components recipes are made of (ARCHITECTURE.md "methods/"). Importing this
// module registers every component, in the order `ltkit list methods` prints them.
export * from './types';
export * from './registry';
export { mfwStrength, mfwHook, stageOption } from './mfw';
export type { MfwOptions } from './mfw';
export { mixupHook, remixHook } from './mixup';
import './loss-components';
import './rebalance';
import './mfw';
import './mixup';
import './crt';
import './tau-norm';
import './lws';
