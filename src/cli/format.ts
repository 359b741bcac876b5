// Human-readable output of runs and summaries for the CLI.
import type { TrainResult } from '../train/trainer';
import { headline } from '../eval/headline';
import type { ClassificationSummary } from '../eval/metrics';

const pct = (v: unknown) => (typeof v === 'number' ? `${(100 * v).toFixed(2)}%` : 'n/a');

export function formatSummary(summary: ClassificationSummary | null | undefined): string {
  const s = headline(summary);
  if (!s) return '(no evaluation)';
  return (
    `top-1 ${pct(s.top1)}  top-5 ${pct(s.top5)}  balanced ${pct(s.balancedAccuracy)}  macro-F1 ${pct(s.macroF1)}  ` +
    `many ${pct(s.many)}  medium ${pct(s.medium)}  few ${pct(s.few)}` +
    (s.ece === undefined || s.ece === null ? '' : `  ECE ${pct(s.ece)}`)
  );
}

export function formatResult(r: TrainResult): string {
  const lines = [`run: ${r.runDir} (${r.status}, ${r.epochs} epochs)`];
  // With more than one stage, each stage's model is shown; `final` is the last one's.
  if (r.stages.length > 1) for (const st of r.stages) lines.push(`after '${st.name}': ${formatSummary(st.test)}`);
  lines.push(`final: ${formatSummary(r.final)}`);
  if (r.best) lines.push(`best (epoch ${r.best.epoch + 1}): ${formatSummary(r.best.test)}`);
  return lines.join('\n');
}
