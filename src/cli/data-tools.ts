// `ltkit data download` and `ltkit data inspect`.
import * as fs from 'fs';
import { download, formatProgress } from '../data/download';
import { shotGroups, imbalanceRatio } from '../data/longtail';
import { catalogEntry, catalogCounts } from '../data/catalog';
import { classCounts } from '../report/charts';
import { renderSvg } from '../report/svg';

export async function downloadCommand(name: string, root: string): Promise<void> {
  let last = 0;
  const dir = await download(name, {
    root,
    log: (m) => process.stderr.write(m + '\n'),
    onProgress: (bytes, total, rate, file) => {
      const now = Date.now();
      if (now - last < 200 && total !== bytes) return;
      last = now;
      process.stderr.write(`\r${file}: ${formatProgress(bytes, total, rate)}`.padEnd(90));
      if (total === bytes) process.stderr.write('\n');
    },
  });
  process.stdout.write(`${name}: ready in ${dir}\n`);
}

interface Inspection {
  lines: string[];
  counts: number[];
  svgPath: string;
  title: string;
  logScale: boolean;
}

function inspect(dataset: string, o: { rho: number; imb: string; svg?: string; imgMax?: number }): Inspection {
  let entry;
  try {
    entry = catalogEntry(dataset);
  } catch (e) {
    throw new Error(`ltkit data inspect: ${(e as Error).message}`);
  }
  if (o.imb !== 'exp' && o.imb !== 'step') throw new Error(`--imb must be exp or step, got '${o.imb}'`);
  let counts = catalogCounts(entry.name, o.rho, o.imb);
  if (o.imgMax !== undefined) {
    const scale = o.imgMax / Math.max(...counts);
    counts = counts.map((c) => Math.floor(c * scale));
  }
  const g = shotGroups(counts);
  const total = counts.reduce((a, b) => a + b, 0);
  const lines = [
    `${dataset}: ${o.imb} imbalance, rho=${o.rho}, ${counts.length} classes, ${total} images (measured ratio ${imbalanceRatio(counts).toFixed(1)})`,
    'class  count  group',
    ...counts.map((c, i) => `${String(i).padStart(5)}  ${String(c).padStart(5)}  ${g.byClass[i]}`),
    `many (>100): ${g.many.length} classes, medium (20-100): ${g.medium.length}, few (<20): ${g.few.length}`,
  ];
  const svgPath = o.svg ?? `${entry.name}-${o.imb}${o.rho}.svg`;
  return { lines, counts, svgPath, title: `${dataset} ${o.imb} rho=${o.rho}`, logScale: o.imb === 'exp' };
}

/**
 * `ltkit data inspect`: prints the per-class counts and shot groups of a long-tailed subset and writes the
 * class-count chart (report/charts classCounts, rendered by Vega) as SVG.
 */
export async function inspectCommand(
  dataset: string,
  o: { rho: number; imb: string; svg?: string; imgMax?: number },
): Promise<string> {
  const r = inspect(dataset, o);
  const names = r.counts.map((_, c) => String(c));
  fs.writeFileSync(r.svgPath, await renderSvg(classCounts(r.counts, names, { title: r.title, logScale: r.logScale })));
  return [...r.lines, `chart: ${r.svgPath}`].join('\n');
}
