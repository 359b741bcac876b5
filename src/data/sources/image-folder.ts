// torchvision ImageFolder layout: root/<class>/**/<file>.(jpg|jpeg|png); classes are the sub-folder
// names sorted by code point, labels are their 0-based ranks; files are walked in sorted order.
// Hidden entries (starting with '.', e.g. .ipynb_checkpoints) are skipped.
import * as fs from 'fs';
import * as path from 'path';
import { FileImageSource } from './file-source';
import { isDir, sortNames } from './file-io';
import { DataFormatError } from './types';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];

export interface ImageFolderOptions {
  root: string;
  /** Expected number of classes (sub-folders); a mismatch is an error. */
  numClasses?: number;
  /** Lower-case extensions to accept (default .jpg, .jpeg, .png). */
  extensions?: string[];
  name?: string;
}

function walk(dir: string, exts: string[], out: string[]): void {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  for (const name of sortNames(entries.map((e) => e.name))) {
    const p = path.join(dir, name);
    const st = fs.statSync(p);
    if (st.isDirectory()) walk(p, exts, out);
    else if (st.isFile() && exts.includes(path.extname(name).toLowerCase())) out.push(p);
  }
}

/** Loads an ImageFolder-style directory. */
export function loadImageFolder(opts: ImageFolderOptions): FileImageSource {
  const root = opts.root;
  if (!isDir(root)) throw new DataFormatError(root, 'missing image folder');
  const exts = opts.extensions ?? IMAGE_EXTENSIONS;
  const classes = sortNames(
    fs
      .readdirSync(root, { withFileTypes: true })
      .filter((e) => !e.name.startsWith('.') && isDir(path.join(root, e.name)))
      .map((e) => e.name),
  );
  if (classes.length === 0) throw new DataFormatError(root, 'no class sub-folders found');
  if (opts.numClasses !== undefined && classes.length !== opts.numClasses) {
    throw new DataFormatError(
      root,
      `class count mismatch: ${classes.length} class folders, expected ${opts.numClasses}`,
    );
  }
  const paths: string[] = [];
  const targets: number[] = [];
  classes.forEach((c, k) => {
    const files: string[] = [];
    walk(path.join(root, c), exts, files);
    if (files.length === 0)
      throw new DataFormatError(path.join(root, c), `class folder has no ${exts.join('/')} files`);
    for (const f of files) {
      paths.push(f);
      targets.push(k);
    }
  });
  return new FileImageSource({
    name: opts.name ?? `imagefolder:${path.basename(path.resolve(root))}`,
    file: root,
    paths,
    targets: Int32Array.from(targets),
    numClasses: classes.length,
    classNames: classes,
  });
}
