// Catalog of the public dataset archives `ltkit data download` knows: URL, file name, published size and MD5.
// Every URL and checksum is the one torchvision publishes (torchvision/datasets/{cifar,svhn,mnist}.py) or, for
// Tiny-ImageNet, the one used by the cs231n course page and every torchvision-style loader. A checksum that could
// not be confirmed is left undefined; download() then prints a warning instead of guessing.

/** Archive layout of a catalog entry: how the downloaded files become the dataset folder. */
export type ExtractKind = 'tar.gz' | 'zip' | 'none';

export interface CatalogFile {
  /** Primary URL. */
  url: string;
  /** Alternative URLs tried in order when the primary fails with a network/HTTP error (not on checksum errors). */
  mirrors?: string[];
  /** Name the file is stored under. */
  filename: string;
  /** Published MD5 (lower-case hex); undefined = not confirmed, download warns and skips verification. */
  md5?: string;
  /** Published size in bytes where known; only a progress-bar hint when the server sends no Content-Length. */
  size?: number;
}

export interface CatalogEntry {
  /** One-line description for help text. */
  description: string;
  files: CatalogFile[];
  /**
   * 'tar.gz' / 'zip': every file is an archive whose single top-level directory is `folder`; it is extracted into
   * `<root>/<folder>`. 'none': files are stored as they are in `<root>/<folder>/`.
   */
  extract: ExtractKind;
  /** Dataset folder name under the data root. */
  folder: string;
}

export type Catalog = Record<string, CatalogEntry>;

const TORONTO = 'https://www.cs.toronto.edu/~kriz/';
const SVHN = 'http://ufldl.stanford.edu/housenumbers/';
// yann.lecun.com now answers 403 to scripts; torchvision lists it as the first mirror and the PyTorch S3 copy second.
const MNIST_MIRRORS = ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'];
const FMNIST = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

function idxFiles(mirrors: string[], md5s: [string, string][]): CatalogFile[] {
  return md5s.map(([filename, md5]) => ({
    url: mirrors[0] + filename,
    mirrors: mirrors.slice(1).map((m) => m + filename),
    filename,
    md5,
  }));
}

export const CATALOG: Catalog = {
  cifar10: {
    description: 'CIFAR-10, python pickle batches (cifar-10-batches-py)',
    files: [
      {
        url: TORONTO + 'cifar-10-python.tar.gz',
        filename: 'cifar-10-python.tar.gz',
        md5: 'c58f30108f718f92721af3b95e74349a',
        size: 170498071,
      },
    ],
    extract: 'tar.gz',
    folder: 'cifar-10-batches-py',
  },
  'cifar10-binary': {
    description: 'CIFAR-10, binary records (cifar-10-batches-bin)',
    files: [
      {
        url: TORONTO + 'cifar-10-binary.tar.gz',
        filename: 'cifar-10-binary.tar.gz',
        md5: 'c32a1d4ab5d03f1284b67883e8d87530',
        size: 170052171,
      },
    ],
    extract: 'tar.gz',
    folder: 'cifar-10-batches-bin',
  },
  cifar100: {
    description: 'CIFAR-100, python pickle (cifar-100-python)',
    files: [
      {
        url: TORONTO + 'cifar-100-python.tar.gz',
        filename: 'cifar-100-python.tar.gz',
        md5: 'eb9058c3a382ffc7106e4002c42a8d85',
      },
    ],
    extract: 'tar.gz',
    folder: 'cifar-100-python',
  },
  svhn: {
    description: 'SVHN cropped digits 32x32, MATLAB .mat (train, test, extra)',
    files: [
      { url: SVHN + 'train_32x32.mat', filename: 'train_32x32.mat', md5: 'e26dedcc434d2e4c54c9b2d4a06d8373' },
      { url: SVHN + 'test_32x32.mat', filename: 'test_32x32.mat', md5: 'eb5a983be6a315427106f1b164d9cef3' },
      { url: SVHN + 'extra_32x32.mat', filename: 'extra_32x32.mat', md5: 'a93ce644f1a588dc4d68dda5feec44a7' },
    ],
    extract: 'none',
    folder: 'svhn',
  },
  mnist: {
    description: 'MNIST, gzipped IDX files',
    files: idxFiles(MNIST_MIRRORS, [
      ['train-images-idx3-ubyte.gz', 'f68b3c2dcbeaaa9fbdd348bbdeb94873'],
      ['train-labels-idx1-ubyte.gz', 'd53e105ee54ea40749a09fcbcd1e9432'],
      ['t10k-images-idx3-ubyte.gz', '9fb629c4189551a2d022fa330f9573f3'],
      ['t10k-labels-idx1-ubyte.gz', 'ec29112dd5afa0611ce80d1b7f02629c'],
    ]),
    extract: 'none',
    folder: 'mnist',
  },
  'fashion-mnist': {
    description: 'Fashion-MNIST, gzipped IDX files',
    files: idxFiles(
      [FMNIST],
      [
        ['train-images-idx3-ubyte.gz', '8d4fb7e6c68d591d4c3dfef9ec88bf0d'],
        ['train-labels-idx1-ubyte.gz', '25c81989df183df01b3e8a0aad5dffbe'],
        ['t10k-images-idx3-ubyte.gz', 'bef4ecab320f06d8554ea6380940ec79'],
        ['t10k-labels-idx1-ubyte.gz', 'bb300cfdad3c16e7a12a480ee83cd310'],
      ],
    ),
    extract: 'none',
    folder: 'fashion-mnist',
  },
  'tiny-imagenet': {
    description: 'Tiny-ImageNet-200, JPEG image folders (tiny-imagenet-200)',
    files: [
      {
        url: 'http://cs231n.stanford.edu/tiny-imagenet-200.zip',
        filename: 'tiny-imagenet-200.zip',
        md5: '90528d7ca1a48142e341f4ef8d21d0de',
        size: 248100043,
      },
    ],
    extract: 'zip',
    folder: 'tiny-imagenet-200',
  },
};

/** Throws when an entry is malformed (used on injected catalogs too, so a typo fails before any request). */
export function validateEntry(name: string, e: CatalogEntry): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new Error(`catalog: bad dataset name ${JSON.stringify(name)}`);
  if (!e.files.length) throw new Error(`catalog ${name}: no files`);
  if (!isPlainName(e.folder)) throw new Error(`catalog ${name}: folder must be a plain name, got ${e.folder}`);
  for (const f of e.files) {
    if (!isPlainName(f.filename)) throw new Error(`catalog ${name}: filename must be a plain name, got ${f.filename}`);
    if (f.md5 !== undefined && !/^[0-9a-f]{32}$/.test(f.md5)) throw new Error(`catalog ${name}: bad md5 ${f.md5}`);
  }
}

function isPlainName(s: string): boolean {
  return s.length > 0 && s !== '.' && s !== '..' && !/[/\\\0]/.test(s);
}
