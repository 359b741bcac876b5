// The progress line of a training run: epoch, step, loss, lr, img/s and ETA. On a terminal it
// rewrites one line; otherwise (CI, pipes) it prints a line per epoch, plus one every 10 s.
import type { EpochLog } from './trainer';

export class Progress {
  private readonly tty: boolean;
  private lastPrint = 0;
  private readonly startedAt = Date.now();
  private epochsTimed = 0;
  private epochSeconds = 0;

  constructor(
    private readonly log: (line: string) => void,
    mode: 'auto' | 'on' | 'off',
  ) {
    this.tty = mode !== 'off' && process.stderr.isTTY === true;
    this.enabled = mode !== 'off';
  }
  private readonly enabled: boolean;

  step(p: {
    epoch: number;
    epochs: number;
    step: number;
    steps: number;
    loss: number;
    lr: number;
    seen: number;
    t0: number;
  }): void {
    if (!this.enabled) return;
    const now = Date.now();
    const last = p.step === p.steps - 1;
    // A terminal line is rewritten 4×/s; logs (CI, pipes) get a step line at most every 10 s and
    // otherwise only the end-of-epoch line, so short epochs stay one line each.
    if (this.lastPrint === 0) this.lastPrint = now;
    if (this.tty ? now - this.lastPrint < 250 && !last : now - this.lastPrint < 10000 || last) return;
    this.lastPrint = now;
    const secs = (now - p.t0) / 1000;
    const ips = p.seen / Math.max(secs, 1e-9);
    const perEpoch = this.epochsTimed > 0 ? this.epochSeconds / this.epochsTimed : (secs / (p.step + 1)) * p.steps;
    const remaining = perEpoch * (p.epochs - p.epoch - 1) + (secs / (p.step + 1)) * (p.steps - p.step - 1);
    const line =
      `epoch ${p.epoch + 1}/${p.epochs} step ${p.step + 1}/${p.steps} loss ${p.loss.toFixed(4)} ` +
      `lr ${p.lr.toPrecision(3)} ${ips.toFixed(0)} img/s ETA ${fmtTime(remaining)}`;
    if (this.tty) process.stderr.write('\r' + line.padEnd(100));
    else this.log(line);
  }

  epochEnd(e: EpochLog, bestEpoch: number | null): void {
    this.epochsTimed++;
    this.epochSeconds += e.seconds;
    if (!this.enabled) return;
    if (this.tty) process.stderr.write('\r'.padEnd(101) + '\r');
    const t = e.test as { top1?: number; balancedAccuracy?: number } | undefined;
    const v = e.val as { top1?: number } | undefined;
    const evalPart = t
      ? ` | test top-1 ${(100 * (t.top1 ?? 0)).toFixed(2)}% bal ${(100 * (t.balancedAccuracy ?? 0)).toFixed(2)}%` +
        (v ? ` | val top-1 ${(100 * (v.top1 ?? 0)).toFixed(2)}%` : '') +
        (bestEpoch !== null ? ` (best @${bestEpoch + 1})` : '')
      : '';
    this.log(
      `epoch ${e.epoch + 1} done in ${e.seconds.toFixed(1)}s: loss ${e.loss.toFixed(4)} train-acc ${(100 * e.trainAcc).toFixed(2)}% ` +
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
