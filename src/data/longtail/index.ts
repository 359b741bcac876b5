// ltkit long-tailed data utilities (SPEC §1.1, §1.2, §6): NumPy-exact RNG, counts, subset selection,
// unlabeled pools, shot groups. Sources: see each module.
export * from './numpy-random';
export * from './counts';
export * from './subset';
export * from './pools';
export * from './groups';
