// The few numbers a run is judged by, pulled out of a ClassificationSummary (for run.json and the CLI).
import type { ClassificationSummary } from './metrics';

export interface Headline {
  top1: number | null;
  top5: number | null;
  balancedAccuracy: number | null;
  macroF1: number | null;
  many: number | null;
  medium: number | null;
  few: number | null;
  /** Expected calibration error (15 bins); absent in summaries made before calibration was measured. */
  ece?: number | null;
}

export function headline(s: ClassificationSummary | Record<string, unknown> | null | undefined): Headline | null {
  if (!s) return null;
  const x = s as ClassificationSummary;
  return {
    top1: x.top1 ?? null,
    top5: x.top5 ?? null,
    balancedAccuracy: x.balancedAccuracy ?? null,
    macroF1: x.macroF1 ?? null,
    many: x.shots?.many.accuracy ?? null,
    medium: x.shots?.medium.accuracy ?? null,
    few: x.shots?.few.accuracy ?? null,
    ece: x.calibration?.ece ?? null,
  };
}
