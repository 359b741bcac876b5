// The progress hook: epoch, step, loss, lr, img/s and ETA. On a terminal it rewrites one line; otherwise
// (CI, pipes) it prints a line per epoch, plus one every 10 s. Stages after the main one are named
// (`crt epoch 2/10 …`).
import type { EpochLog, Hook, StepEnd } from './loop';
import type { TrainingStage } from '../core/task';

export class Progress implements Hook {
  private readonly tty: boolean;
  private readonly enabled: boolean;
  private lastPrint = 0;
  private readonly startedAt = Date.now();
  private epochsTimed = 0;
  private epochSeconds = 0;
  private stageName = '';

  constructor(
    private readonly log: (line: string) => void,
    mode: 'auto' | 'on' | 'off',
    /** The best epoch so far (shown after the evaluation). */
    private readonly bestEpoch: () => number | null = () => null,
  ) {
    this.tty = mode !== 'off' && process.stderr.isTTY === true;
    this.enabled = mode !== 'off';
  }

  private prefix(stage: string): string {
    return stage === 'train' ? '' : `${stage} `;
  }

  onStepEnd(p: StepEnd): void {
    if (p.stage.name !== this.stageName) {
      // A new stage: its epochs take their own time.
      this.stageName = p.stage.name;
      this.epochsTimed = 0;
      this.epochSeconds = 0;
    }
    if (!this.enabled) return;
    const now = Date.now();
    const last = p.step === p.steps - 1;
    // A terminal line is rewritten 4×/s; logs (CI, pipes) get a step line at most every 10 s and
    // otherwise only the end-of-epoch line, so short epochs stay one line each.
    if (this.lastPrint === 0) this.lastPrint = now;
    if (this.tty ? now - this.lastPrint < 250 && !last : now - this.lastPrint < 10000 || last) return;
    this.lastPrint = now;
    const secs = (now - p.startedAt) / 1000;
    const ips = p.seen / Math.max(secs, 1e-9);
    const epochs = p.stage.epochs;
    const perEpoch = this.epochsTimed > 0 ? this.epochSeconds / this.epochsTimed : (secs / (p.step + 1)) * p.steps;
    const remaining = perEpoch * (epochs - p.epoch - 1) + (secs / (p.step + 1)) * (p.steps - p.step - 1);
    const line =
      `${this.prefix(p.stage.name)}epoch ${p.epoch + 1}/${epochs} step ${p.step + 1}/${p.steps} ` +
      `loss ${p.loss.toFixed(4)} lr ${p.lr.toPrecision(3)} ${ips.toFixed(0)} img/s ETA ${fmtTime(remaining)}`;
    if (this.tty) process.stderr.write('\r' + line.padEnd(100));
    else this.log(line);
  }

  onEpochEnd(e: EpochLog, stage: TrainingStage): void {
    this.epochsTimed++;
    this.epochSeconds += e.seconds;
    if (!this.enabled) return;
    if (this.tty) process.stderr.write('\r'.padEnd(101) + '\r');
    const pct = (v: number | null | undefined) => `${(100 * (v ?? 0)).toFixed(2)}%`;
    const best = stage.selectBest ? this.bestEpoch() : null;
    const evalPart = e.test
      ? ` | test top-1 ${pct(e.test.top1)} bal ${pct(e.test.balancedAccuracy)}` +
        (e.val ? ` | val top-1 ${pct(e.val.top1)}` : '') +
        (best !== null ? ` (best @${best + 1})` : '')
      : '';
    const acc = e.trainAcc === null ? '' : ` train-acc ${pct(e.trainAcc)}`;
    this.log(
      `${this.prefix(stage.name)}epoch ${e.epoch + 1} done in ${e.seconds.toFixed(1)}s: loss ${e.loss.toFixed(4)}${acc} ` +
        `${e.imgPerSec.toFixed(0)} img/s${evalPart} [${fmtTime((Date.now() - this.startedAt) / 1000)} elapsed]`,
    );
  }
}

export function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}
