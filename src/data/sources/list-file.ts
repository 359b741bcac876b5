// Split list files as used by ImageNet-LT and iNaturalist-2018 (OLTR / decoupling repos):
// one `relative/path label` per line, label an integer >= 0, paths relative to an image root.
// The path is everything before the last run of whitespace, so paths may contain spaces.
import * as path from 'path';
import { checkFilesExist, ClassCountOptions, FileImageSource, resolveClassCount } from './file-source';
import { readFileChecked } from './file-io';
import { DataFormatError } from './types';

export interface ListFileOptions extends ClassCountOptions {
  /** The list file, e.g. ImageNet_LT_train.txt. */
  file: string;
  /** Folder the listed paths are relative to (default: the list file's folder). */
  root?: string;
  classNames?: string[];
  /** Stat every listed image at load time (default true). */
  checkFiles?: boolean;
  /** Read '/a/b.jpg' as 'a/b.jpg' under `root` (Places-LT's lists start every path with '/'). */
  pathsUnderRoot?: boolean;
  name?: string;
}

/** Parses `path label` lines; returns 1-based line numbers alongside. */
export function parseListFile(text: string, file: string): { paths: string[]; labels: number[]; lines: number[] } {
  const paths: string[] = [];
  const labels: number[] = [];
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const l = raw.trim();
    if (!l) return;
    const m = /^(.*\S)\s+(\S+)$/.exec(l);
    if (!m) throw new DataFormatError(file, `line ${i + 1}: expected 'path label', got '${l}'`);
    if (!/^[+-]?\d+$/.test(m[2])) throw new DataFormatError(file, `line ${i + 1}: label '${m[2]}' is not an integer`);
    const v = Number(m[2]);
    if (v < 0 || v > 2 ** 31 - 1) throw new DataFormatError(file, `line ${i + 1}: label out of range: ${m[2]}`);
    paths.push(m[1]);
    labels.push(v);
    lines.push(i + 1);
  });
  return { paths, labels, lines };
}

/** Loads a `path label` list file (ImageNet-LT / iNaturalist-2018 splits). */
export function loadListFile(opts: ListFileOptions): FileImageSource {
  const file = opts.file;
  const text = Buffer.from(readFileChecked(file)).toString('utf8');
  const { paths, labels, lines } = parseListFile(text, file);
  if (paths.length === 0) throw new DataFormatError(file, 'no entries');
  const root = opts.root ?? path.dirname(file);
  const abs = paths.map((p) => path.resolve(root, opts.pathsUnderRoot ? p.replace(/^\/+/, '') : p));
  const targets = Int32Array.from(labels);
  const numClasses = resolveClassCount(file, targets, {
    numClasses: opts.numClasses ?? opts.classNames?.length,
    allowMissingClasses: opts.allowMissingClasses,
  });
  if (opts.checkFiles ?? true) checkFilesExist(file, abs, (i) => `line ${lines[i]}`);
  return new FileImageSource({
    name: opts.name ?? `list:${path.basename(file)}`,
    file,
    paths: abs,
    targets,
    numClasses,
    classNames: opts.classNames,
  });
}
