// ltkit: deep learning on class-imbalanced (long-tailed) data, over libtorch.
export * from './engine';
