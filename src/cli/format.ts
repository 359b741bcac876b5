// Human-readable output of runs and summaries for the CLI.
import type { TrainResult } from '../train/trainer';
import { headline } from '../eval/headline';

const pct = (v: unknown) => (typeof v === 'number' ? `${(100 * v).toFixed(2)}%` : 'n/a');

export function formatSummary(summary: Record<string, unknown> | null): string {
  const s = headline(summary);
  if (!s) return '(no evaluation)';
  return (
    `top-1 ${pct(s.top1)}  top-5 ${pct(s.top5)}  balanced ${pct(s.balancedAccuracy)}  macro-F1 ${pct(s.macroF1)}  ` +
    `many ${pct(s.many)}  medium ${pct(s.medium)}  few ${pct(s.few)}`
  );
}

export function formatResult(r: TrainResult): string {
  const lines = [`run: ${r.runDir} (${r.status}, ${r.epochs} epochs)`];
  lines.push(`final: ${formatSummary(r.final)}`);
  if (r.best)
    lines.push(`best (epoch ${(r.bestEpoch ?? 0) + 1}): ${formatSummary(r.best.test as Record<string, unknown>)}`);
  if (r.classifierStage) {
    const st = r.classifierStage as { stage?: string; test?: Record<string, unknown> };
    lines.push(`after ${st.stage ?? 'classifier stage'}: ${formatSummary(st.test ?? null)}`);
  }
  return lines.join('\n');
}
