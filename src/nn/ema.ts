// Exponential moving averages of weights, shared by the methods that keep a slow copy of a network: Mean
// Teacher's teacher (methods/mean-teacher.ts) and MoCo's key encoder (ssp/moco.ts, θ_k ← m·θ_k + (1 − m)·θ_q).
import { dispose, noGrad, tidy } from '../engine';
import { add_, copy_, mul_ } from '../engine/ops.generated';
import type { Module } from './module';

/** θ_slow ← a·θ_slow + (1 − a)·θ_fast, over the parameters (matched by name). */
export function emaUpdate(slow: Module, fast: Module, a: number): void {
  const s = new Map(fast.namedParameters());
  noGrad(() => {
    for (const [name, t] of slow.namedParameters()) {
      const p = s.get(name);
      if (!p) throw new Error(`emaUpdate: the fast network has no parameter '${name}'`);
      tidy(() => add_(mul_(t, a), p, { alpha: 1 - a }));
    }
  });
}

/** Copies every parameter and buffer of `from` into `to` (same architecture). */
export function copyWeights(to: Module, from: Module): void {
  const src = from.stateDict();
  const dst = to.stateDict();
  try {
    noGrad(() => {
      for (const [k, t] of Object.entries(dst)) tidy(() => copy_(t, src[k]));
    });
  } finally {
    dispose([src, dst]);
  }
}
