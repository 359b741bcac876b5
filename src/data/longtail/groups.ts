// Many/medium/few-shot class groups and a class-count bar chart for `ltkit data inspect` (SPEC §6).
// Source: the split used by Liu et al., "Large-Scale Long-Tailed Recognition in an Open World" (OLTR,
// CVPR 2019) and by Kang et al. "Decoupling" / Yang & Xu (NeurIPS 2020): many-shot > 100 training images,
// medium-shot 20–100, few-shot < 20.

export type ShotGroup = 'many' | 'medium' | 'few';

export interface ShotThresholds {
  /** A class is many-shot when its count is > many (default 100). */
  many: number;
  /** A class is few-shot when its count is < few (default 20). */
  few: number;
}

export const DEFAULT_SHOT_THRESHOLDS: ShotThresholds = { many: 100, few: 20 };

export function shotGroup(count: number, t: ShotThresholds = DEFAULT_SHOT_THRESHOLDS): ShotGroup {
  if (count > t.many) return 'many';
  if (count < t.few) return 'few';
  return 'medium';
}

export interface ShotGroups {
  many: number[];
  medium: number[];
  few: number[];
  /** Group of each class (label order). */
  byClass: ShotGroup[];
}

/** Classes (label ids) per group from the TRAIN counts. */
export function shotGroups(trainCounts: ArrayLike<number>, t: ShotThresholds = DEFAULT_SHOT_THRESHOLDS): ShotGroups {
  const g: ShotGroups = { many: [], medium: [], few: [], byClass: [] };
  for (let c = 0; c < trainCounts.length; c++) {
    const s = shotGroup(trainCounts[c], t);
    g[s].push(c);
    g.byClass.push(s);
  }
  return g;
}

/** Class counts from integer labels (labels outside [0, numClasses) are ignored). */
export function classCounts(targets: ArrayLike<number>, numClasses: number): number[] {
  const out = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t >= 0 && t < numClasses) out[t]++;
  }
  return out;
}

/** Imbalance ratio max/min over non-empty classes (Infinity if some class is empty). */
export function imbalanceRatio(counts: ArrayLike<number>): number {
  let mx = 0;
  let mn = Infinity;
  for (let i = 0; i < counts.length; i++) {
    mx = Math.max(mx, counts[i]);
    mn = Math.min(mn, counts[i]);
  }
  return mn === 0 ? Infinity : mx / mn;
}

export interface CountsSvgOptions {
  title?: string;
  classNames?: string[];
  /** Log-scale y axis (log10(1 + n)). */
  logScale?: boolean;
  width?: number;
  height?: number;
  /** Sort bars by descending count (default: label order). */
  sortDescending?: boolean;
  thresholds?: ShotThresholds;
}

const GROUP_COLORS: Record<ShotGroup, string> = { many: '#4e79a7', medium: '#f28e2b', few: '#e15759' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

/** Standalone SVG bar chart of per-class counts, bars coloured by many/medium/few group. */
export function renderCountsSvg(counts: ArrayLike<number>, opts: CountsSvgOptions = {}): string {
  const C = counts.length;
  const W = opts.width ?? Math.max(480, Math.min(1600, 60 + C * 18));
  const H = opts.height ?? 320;
  const left = 60;
  const right = 20;
  const top = opts.title ? 40 : 20;
  const bottom = C <= 50 ? 70 : 40;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const thresholds = opts.thresholds ?? DEFAULT_SHOT_THRESHOLDS;
  const order = Array.from({ length: C }, (_, i) => i);
  if (opts.sortDescending) order.sort((a, b) => counts[b] - counts[a] || a - b);
  let max = 0;
  for (let i = 0; i < C; i++) max = Math.max(max, counts[i]);
  const scale = (n: number): number => {
    if (max <= 0) return 0;
    return opts.logScale ? Math.log10(1 + n) / Math.log10(1 + max) : n / max;
  };
  const bw = C > 0 ? plotW / C : plotW;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  if (opts.title) parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`);
  // axes
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>`);
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="black"/>`);
  // y ticks
  const ticks: number[] = [];
  if (opts.logScale) {
    for (let v = 1; v <= Math.max(1, max); v *= 10) ticks.push(v);
    ticks.unshift(0);
  } else {
    for (let i = 0; i <= 4; i++) ticks.push((max * i) / 4);
  }
  for (const v of ticks) {
    const y = top + plotH - scale(v) * plotH;
    parts.push(`<line x1="${left - 4}" y1="${y.toFixed(1)}" x2="${left}" y2="${y.toFixed(1)}" stroke="black"/>`);
    parts.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  order.forEach((c, pos) => {
    const n = counts[c];
    const h = scale(n) * plotH;
    const x = left + pos * bw;
    const name = opts.classNames?.[c] ?? String(c);
    const g = shotGroup(n, thresholds);
    parts.push(
      `<rect x="${(x + bw * 0.1).toFixed(2)}" y="${(top + plotH - h).toFixed(2)}" width="${Math.max(0.5, bw * 0.8).toFixed(2)}" height="${h.toFixed(2)}" fill="${GROUP_COLORS[g]}"><title>${esc(name)}: ${n} (${g})</title></rect>`,
    );
    if (C <= 50) {
      const tx = x + bw / 2;
      const ty = top + plotH + 12;
      parts.push(
        `<text x="${tx.toFixed(1)}" y="${ty}" text-anchor="end" transform="rotate(-45 ${tx.toFixed(1)} ${ty})">${esc(name)}</text>`,
      );
    }
  });
  // legend
  let lx = left + 10;
  for (const g of ['many', 'medium', 'few'] as ShotGroup[]) {
    parts.push(`<rect x="${lx}" y="${top}" width="10" height="10" fill="${GROUP_COLORS[g]}"/>`);
    parts.push(`<text x="${lx + 14}" y="${top + 9}">${g}</text>`);
    lx += 70;
  }
  parts.push(
    `<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">images${opts.logScale ? ' (log)' : ''}</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}
