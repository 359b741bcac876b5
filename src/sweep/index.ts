// sweep/: grids of runs (recipes × ρ × imbalance × seeds × any dotted key) from one YAML file, trained
// resumably and several at once, ending with the comparison report.
export { runSweep } from './sweep';
export type { SweepOptions, SweepResult, SweepPointResult, PointStatus } from './sweep';
export { expandGrid, readGridFile } from './grid';
export type { Grid, GridFile, GridPoint } from './grid';
