// Data loading: seeded batched iteration with batched tensor transforms (see ./loader.ts header).
export * from './loader';
export { ShuffleSampler } from './shuffle';
