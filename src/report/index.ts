// report/: what ltkit draws and writes from run directories — charts (Vega-Lite specs rendered to SVG),
// the HTML report of one run or many, and the paper-style comparison table (Markdown, CSV).
export { renderSvg } from './svg';
export type { VegaLiteSpec } from './svg';
export * as charts from './charts';
export { writeReport, buildReport, reportPath } from './report';
export type { ReportOptions, ReportFiles } from './report';
export { buildComparison, comparisonMarkdown, comparisonCsv, GROUPING_NOTE } from './comparison';
export type { ComparisonTable } from './comparison';
export { loadRuns, findRunDirs } from './run-data';
export type { RunData } from './run-data';
