// Weight initialisation, mirroring torch.nn.init (PyTorch 1.13) formula for formula.
//
// Every draw goes through libtorch's default generator (`uniform_` / `normal_` in place), so
// `manualSeed(s)` followed by the same sequence of init calls gives the same numbers as PyTorch
// after `torch.manual_seed(s)` (the CPU generator and kernels are the same code).
import { Tensor, noGrad } from '../engine/tensor';
import { fill_, normal_, uniform_, zero_ } from '../engine/ops.generated';

export type Nonlinearity =
  'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

/** torch.nn.init.calculate_gain. `param` is leaky_relu's negative slope (default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
  }
}

/** [fan_in, fan_out] as PyTorch computes them: dims 1 / 0 times the receptive field. */
export function calculateFanInAndFanOut(t: Tensor | number[]): [number, number] {
  const shape = Array.isArray(t) ? t : t.shape;
  if (shape.length < 2) {
    throw new Error(
      `fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions (shape [${shape}])`,
    );
  }
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * receptive, shape[0] * receptive];
}

export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (leaky_relu only); PyTorch default 0. */
  a?: number;
  /** 'fan_in' (default) preserves forward variance, 'fan_out' backward variance. */
  mode?: FanMode;
  /** Default 'leaky_relu' (with a = 0 this is ReLU's gain √2), as in PyTorch. */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const fan = (o.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  const gain = calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** torch.nn.init.kaiming_normal_: N(0, std²), std = gain / √fan. */
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const std = kaimingStd(t, o);
  return noGrad(() => normal_(t, { mean: 0, std }));
}

/** torch.nn.init.kaiming_uniform_: U(−b, b), b = √3 · gain / √fan. */
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, o);
  return noGrad(() => uniform_(t, { from: -bound, to: bound }));
}

/** torch.nn.init.xavier_uniform_. */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const bound = Math.sqrt(3) * gain * Math.sqrt(2 / (fanIn + fanOut));
  return noGrad(() => uniform_(t, { from: -bound, to: bound }));
}

/** torch.nn.init.xavier_normal_. */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return noGrad(() => normal_(t, { mean: 0, std: gain * Math.sqrt(2 / (fanIn + fanOut)) }));
}

export function uniformInit_(t: Tensor, a = 0, b = 1): Tensor {
  return noGrad(() => uniform_(t, { from: a, to: b }));
}
export function normalInit_(t: Tensor, mean = 0, std = 1): Tensor {
  return noGrad(() => normal_(t, { mean, std }));
}
export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => fill_(t, value));
}
export function zeros_(t: Tensor): Tensor {
  return noGrad(() => zero_(t));
}
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/**
 * PyTorch's default init of nn.Conv2d / nn.Linear (`reset_parameters`): weight
 * kaiming_uniform_(a = √5) — i.e. U(±1/√fan_in) — then bias U(±1/√fan_in). Same draw order.
 */
export function defaultLayerInit_(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias !== null) {
    const [fanIn] = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniformInit_(bias, -bound, bound);
  }
}
