// In-memory fixed-size image set (used by the CIFAR, SVHN and IDX loaders). Stores one contiguous
// uint8 buffer in either NHWC order or MATLAB column-major (H,W,C,N) order — the latter is gathered
// into HWC on demand so multi-GB SVHN arrays are never duplicated.
import { checkIndex, checkLabels, DataFormatError, ImageSource, RawImage, RawImages } from './types';

export type DenseLayout = 'nhwc' | 'colmajor-hwcn';

export interface DenseSourceInit {
  name: string;
  /** Used in label-range errors. */
  file: string;
  data: Uint8Array;
  layout: DenseLayout;
  imageSize: [number, number, number];
  targets: Int32Array;
  numClasses: number;
  classNames?: string[];
}

export class DenseImageSource implements ImageSource {
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  readonly targets: Int32Array;
  readonly classNames?: string[];
  readonly imageSize: [number, number, number];
  readonly layout: DenseLayout;
  private readonly data: Uint8Array;

  constructor(init: DenseSourceInit) {
    const [h, w, c] = init.imageSize;
    const per = h * w * c;
    const n = init.targets.length;
    if (init.data.length !== n * per) {
      throw new DataFormatError(
        init.file,
        `image buffer has ${init.data.length} bytes, expected ${n} x ${h}x${w}x${c} = ${n * per}`,
      );
    }
    checkLabels(init.file, init.targets, init.numClasses, init.classNames);
    this.name = init.name;
    this.length = n;
    this.numClasses = init.numClasses;
    this.targets = init.targets;
    this.classNames = init.classNames;
    this.imageSize = [h, w, c];
    this.layout = init.layout;
    this.data = init.data;
  }

  /** Copies image i as HWC into dst at offset. */
  private copyInto(i: number, dst: Uint8Array, off: number): void {
    checkIndex(this.name, i, this.length);
    const [h, w, c] = this.imageSize;
    const per = h * w * c;
    if (this.layout === 'nhwc') {
      dst.set(this.data.subarray(i * per, (i + 1) * per), off);
      return;
    }
    // column-major (H,W,C,N): element (y,x,ch,i) at y + H*(x + W*(ch + C*i))
    const base = i * per;
    const plane = h * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = base + y + h * x;
        const o = off + (y * w + x) * c;
        for (let ch = 0; ch < c; ch++) dst[o + ch] = this.data[src + ch * plane];
      }
    }
  }

  getImage(i: number): RawImage {
    const [h, w, c] = this.imageSize;
    const data = new Uint8Array(h * w * c);
    this.copyInto(i, data, 0);
    return { data, height: h, width: w, channels: c };
  }

  getBatch(indices: ArrayLike<number>): RawImages {
    const [h, w, c] = this.imageSize;
    const per = h * w * c;
    const data = new Uint8Array(indices.length * per);
    for (let k = 0; k < indices.length; k++) this.copyInto(indices[k], data, k * per);
    return { data, shape: [indices.length, h, w, c] };
  }
}

/** Converts N images stored as CHW planes (CIFAR) to NHWC. */
export function chwToHwc(src: Uint8Array, n: number, h: number, w: number, c: number): Uint8Array {
  const per = h * w * c;
  const plane = h * w;
  const out = new Uint8Array(n * per);
  for (let i = 0; i < n; i++) {
    const b = i * per;
    for (let p = 0; p < plane; p++) {
      const o = b + p * c;
      for (let ch = 0; ch < c; ch++) out[o + ch] = src[b + ch * plane + p];
    }
  }
  return out;
}
