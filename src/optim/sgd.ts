// SGD with momentum, weight decay, dampening and Nesterov — torch.optim.SGD (PyTorch 1.13,
// `_single_tensor_sgd`) update for update, in the same order:
//
//   d_p = grad (negated if maximize)
//   d_p = d_p + weight_decay · p                       (weight_decay ≠ 0)
//   buf = clone(d_p)                                   (first step: momentum buffer created)
//   buf = momentum · buf + (1 − dampening) · d_p       (later steps, in place)
//   d_p = d_p + momentum · buf  (nesterov)  or  d_p = buf
//   p  -= lr · d_p
//
// Parameters whose grad is none are skipped (their buffers untouched), as in PyTorch.
// State: one momentum buffer per parameter, saved as tensors `state.<i>.momentum_buffer`
// (i = index over all groups' parameters, PyTorch's packing) + JSON-able group hyper-parameters.
import { Tensor, noGrad, tidy, dispose } from '../engine/tensor';
import { add, add_, clone, copy_, detach, mul_, neg } from '../engine/ops.generated';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  maximize?: boolean;
}

export interface ParamGroup extends Required<SGDOptions> {
  params: Tensor[];
  /** Free-form tags a caller may use (e.g. 'backbone', 'head'); saved with the state. */
  name?: string;
}

export type ParamGroupInput = { params: Tensor[]; name?: string } & Partial<SGDOptions>;

/** JSON-able part of the optimizer state (PyTorch's `param_groups` with parameter indices). */
export interface SGDStateMeta {
  type: 'sgd';
  paramGroups: (Omit<ParamGroup, 'params'> & { params: number[] })[];
}

export interface SGDState {
  /** `state.<i>.momentum_buffer` → buffer (detached views sharing storage; save with safetensors). */
  tensors: Record<string, Tensor>;
  meta: SGDStateMeta;
}

export class SGD {
  readonly paramGroups: ParamGroup[];
  readonly defaults: Required<SGDOptions>;
  private readonly momentumBuffers = new Map<Tensor, Tensor>();

  constructor(params: Tensor[] | ParamGroupInput[], opts: SGDOptions) {
    this.defaults = {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false,
      maximize: opts.maximize ?? false,
    };
    const groups: ParamGroupInput[] =
      params.length > 0 && params[0] instanceof Tensor
        ? [{ params: params as Tensor[] }]
        : (params as ParamGroupInput[]);
    if (groups.length === 0) throw new Error('SGD: got an empty parameter list');
    this.paramGroups = [];
    const seen = new Set<Tensor>();
    for (const g of groups) {
      const group: ParamGroup = { ...this.defaults, ...stripUndefined(g), params: [...g.params] };
      validate(group);
      for (const p of group.params) {
        if (!(p instanceof Tensor)) throw new TypeError('SGD: parameters must be Tensors');
        if (seen.has(p)) throw new Error('SGD: some parameters appear in more than one parameter group');
        seen.add(p);
      }
      this.paramGroups.push(group);
    }
  }

  /** Sets the learning rate of every group (what the reference `adjust_learning_rate` does). */
  setLr(lr: number): void {
    for (const g of this.paramGroups) g.lr = lr;
  }
  get lr(): number {
    return this.paramGroups[0].lr;
  }

  /** Every parameter of every group, in order. */
  parameters(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** Drops all gradients (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  /** The momentum buffer of `p` (null before its first step or without momentum). */
  momentumBuffer(p: Tensor): Tensor | null {
    return this.momentumBuffers.get(p) ?? null;
  }

  step(): void {
    noGrad(() =>
      tidy(() => {
        for (const g of this.paramGroups) {
          for (const p of g.params) {
            const grad = p.grad;
            if (grad === null) continue;
            let dp = g.maximize ? neg(grad) : grad;
            if (g.weightDecay !== 0) dp = add(dp, p, { alpha: g.weightDecay });
            if (g.momentum !== 0) {
              let buf = this.momentumBuffers.get(p);
              if (buf === undefined) {
                buf = detach(clone(dp)).keep();
                this.momentumBuffers.set(p, buf);
              } else {
                add_(mul_(buf, g.momentum), dp, { alpha: 1 - g.dampening });
              }
              dp = g.nesterov ? add(dp, buf, { alpha: g.momentum }) : buf;
            }
            add_(p, dp, { alpha: -g.lr });
          }
        }
      }),
    );
  }

  private allParams(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  stateDict(): SGDState {
    const index = new Map<Tensor, number>();
    this.allParams().forEach((p, i) => index.set(p, i));
    const tensors: Record<string, Tensor> = {};
    for (const [p, buf] of this.momentumBuffers) {
      const i = index.get(p);
      if (i !== undefined) tensors[`state.${i}.momentum_buffer`] = detach(buf);
    }
    let next = 0;
    const paramGroups = this.paramGroups.map(({ params, ...hyper }) => ({
      ...hyper,
      params: params.map(() => next++),
    }));
    return { tensors, meta: { type: 'sgd', paramGroups } };
  }

  /**
   * Restores a state from `stateDict()` (this optimizer must hold the same parameters in the same
   * groups). Buffers are copied into fresh tensors on each parameter's device.
   */
  loadStateDict(state: SGDState): void {
    const { meta, tensors } = state;
    if (meta === undefined || !Array.isArray(meta.paramGroups))
      throw new Error('SGD.loadStateDict: missing meta.paramGroups');
    if (meta.type !== undefined && meta.type !== 'sgd')
      throw new Error(`SGD.loadStateDict: state is for '${meta.type}'`);
    if (meta.paramGroups.length !== this.paramGroups.length) {
      throw new Error(
        `SGD.loadStateDict: state has ${meta.paramGroups.length} parameter groups, optimizer has ${this.paramGroups.length}`,
      );
    }
    meta.paramGroups.forEach((sg, gi) => {
      if (sg.params.length !== this.paramGroups[gi].params.length) {
        throw new Error(
          `SGD.loadStateDict: group ${gi} has ${sg.params.length} parameters in the state, ${this.paramGroups[gi].params.length} here`,
        );
      }
    });
    const params = this.allParams();
    const newBuffers = new Map<Tensor, Tensor>();
    const known = new Set<string>();
    for (let i = 0; i < params.length; i++) {
      const key = `state.${i}.momentum_buffer`;
      const src = tensors[key];
      if (src === undefined) continue;
      known.add(key);
      const p = params[i];
      if (src.shape.join() !== p.shape.join()) {
        dispose([...newBuffers.values()]);
        throw new Error(`SGD.loadStateDict: ${key} has shape [${src.shape}], parameter ${i} has [${p.shape}]`);
      }
      newBuffers.set(p, noGrad(() => copy_(p.zerosLike(), src)).keep());
    }
    const extra = Object.keys(tensors).filter((k) => !known.has(k));
    if (extra.length > 0) {
      dispose([...newBuffers.values()]);
      throw new Error(`SGD.loadStateDict: unexpected state tensors ${extra.slice(0, 10).join(', ')}`);
    }
    const updated = meta.paramGroups.map((sg, gi) => {
      const g: ParamGroup = { ...this.paramGroups[gi] };
      for (const k of HYPER_KEYS) if (sg[k] !== undefined) (g as unknown as Record<string, unknown>)[k] = sg[k];
      if (sg.name !== undefined) g.name = sg.name;
      return g;
    });
    try {
      updated.forEach(validate);
    } catch (e) {
      dispose([...newBuffers.values()]);
      throw e;
    }
    updated.forEach((g, gi) => Object.assign(this.paramGroups[gi], g));
    for (const b of this.momentumBuffers.values()) b.dispose();
    this.momentumBuffers.clear();
    for (const [p, b] of newBuffers) this.momentumBuffers.set(p, b);
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    for (const b of this.momentumBuffers.values()) b.dispose();
    this.momentumBuffers.clear();
  }
}

const HYPER_KEYS = ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize'] as const;

function validate(g: ParamGroup): void {
  if (!(g.lr >= 0)) throw new Error(`SGD: invalid learning rate ${g.lr}`);
  if (!(g.momentum >= 0)) throw new Error(`SGD: invalid momentum ${g.momentum}`);
  if (!(g.weightDecay >= 0)) throw new Error(`SGD: invalid weightDecay ${g.weightDecay}`);
  if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
    throw new Error('SGD: Nesterov momentum requires a momentum and zero dampening');
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
