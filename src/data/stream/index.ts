// Streamed file data sets: decoding (sharp), the prefetching loader, the benchmark and own-data splits.
export * from './decode';
export * from './worker-decoder';
export * from './stream-loader';
export * from './file-data';
export * from './profile';
