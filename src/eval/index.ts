// eval/: classification metrics, decoupled classifier re-balancing (τ-norm, LWS), comparison tables.
export * from './metrics';
export * from './decoupled';
export * from './table';
