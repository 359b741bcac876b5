// CSV of (path, label) per RFC 4180: comma-separated, fields optionally double-quoted ("" escapes a
// quote; quoted fields may hold commas and newlines), CRLF or LF line ends. An optional header row is
// detected (or forced); with a header the path/label columns are found by name (path|file|filename|
// image|image_path|filepath|img and label|target|class|category|y), else columns 0 and 1 are used.
// Integer labels are used as given; text labels become classes sorted by name (or `classNames` order).
import * as path from 'path';
import { checkFilesExist, ClassCountOptions, FileImageSource, resolveClassCount } from './file-source';
import { readFileChecked, sortNames } from './file-io';
import { DataFormatError } from './types';

export interface CsvOptions extends ClassCountOptions {
  file: string;
  /** Folder the paths are relative to (default: the CSV's folder). */
  root?: string;
  /** true / false / 'auto' (default). */
  header?: boolean | 'auto';
  /** For text labels: class order (default: sorted unique labels); for integer labels: names. */
  classNames?: string[];
  checkFiles?: boolean;
  name?: string;
}

/** Parses RFC 4180 CSV text into rows (with the 1-based line each row starts on). */
export function parseCsv(text: string, file = '<csv>'): { rows: string[][]; lines: number[] } {
  const rows: string[][] = [];
  const lines: number[] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  let line = 1;
  let rowLine = 1;
  let i = 0;
  const endField = (): void => {
    row.push(quoted ? field : field.trim());
    field = '';
    quoted = false;
  };
  const endRow = (): void => {
    endField();
    if (!(row.length === 1 && row[0] === '')) {
      rows.push(row);
      lines.push(rowLine);
    }
    row = [];
  };
  if (text.charCodeAt(0) === 0xfeff) i = 1; // BOM
  for (; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"') {
      if (field.trim() !== '') throw new DataFormatError(file, `line ${line}: quote inside an unquoted field`);
      field = '';
      inQuotes = true;
      quoted = true;
    } else if (ch === ',') endField();
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
      rowLine = line;
    } else {
      if (quoted) throw new DataFormatError(file, `line ${line}: text after a closing quote`);
      field += ch;
    }
  }
  if (inQuotes) throw new DataFormatError(file, `truncated: unterminated quoted field starting on line ${rowLine}`);
  if (field !== '' || row.length > 0) endRow();
  return { rows, lines };
}

const PATH_NAMES = [
  'path',
  'file',
  'filename',
  'file_name',
  'image',
  'image_path',
  'image_id',
  'filepath',
  'img',
  'relative_path',
];
const LABEL_NAMES = ['label', 'target', 'class', 'class_id', 'category', 'category_id', 'y', 'label_id'];
const isInt = (s: string): boolean => /^[+-]?\d+$/.test(s);

/** Loads a CSV of (path, label). */
export function loadCsv(opts: CsvOptions): FileImageSource {
  const file = opts.file;
  const { rows, lines } = parseCsv(Buffer.from(readFileChecked(file)).toString('utf8'), file);
  if (rows.length === 0) throw new DataFormatError(file, 'empty CSV');
  const first = rows[0].map((s) => s.toLowerCase());
  let pathCol = 0;
  let labelCol = 1;
  const pi = first.findIndex((s) => PATH_NAMES.includes(s));
  const li = first.findIndex((s) => LABEL_NAMES.includes(s));
  let header = opts.header ?? 'auto';
  if (header === 'auto') {
    const byName = pi >= 0 && li >= 0;
    const byType =
      rows.length > 1 &&
      rows[0].length > 1 &&
      !isInt(rows[0][1]) &&
      rows.slice(1).every((r) => r.length > 1 && isInt(r[1]));
    header = byName || byType;
  }
  if (header && pi >= 0 && li >= 0) {
    pathCol = pi;
    labelCol = li;
  }
  const body = header ? rows.slice(1) : rows;
  const bodyLines = header ? lines.slice(1) : lines;
  if (body.length === 0) throw new DataFormatError(file, 'no data rows');
  const paths: string[] = [];
  const raw: string[] = [];
  body.forEach((r, k) => {
    if (r.length <= Math.max(pathCol, labelCol))
      throw new DataFormatError(
        file,
        `line ${bodyLines[k]}: expected at least ${Math.max(pathCol, labelCol) + 1} fields, got ${r.length}`,
      );
    if (!r[pathCol]) throw new DataFormatError(file, `line ${bodyLines[k]}: empty path`);
    if (!r[labelCol]) throw new DataFormatError(file, `line ${bodyLines[k]}: empty label`);
    paths.push(r[pathCol]);
    raw.push(r[labelCol]);
  });
  let targets: Int32Array;
  let classNames = opts.classNames;
  if (raw.every(isInt)) {
    targets = Int32Array.from(raw, (s, k) => {
      const v = Number(s);
      if (v < 0 || v > 2 ** 31 - 1) throw new DataFormatError(file, `line ${bodyLines[k]}: label out of range: ${s}`);
      return v;
    });
  } else {
    classNames = classNames ?? sortNames([...new Set(raw)]);
    const index = new Map(classNames.map((c, k) => [c, k]));
    targets = Int32Array.from(raw, (s, k) => {
      const v = index.get(s);
      if (v === undefined) throw new DataFormatError(file, `line ${bodyLines[k]}: unknown class '${s}'`);
      return v;
    });
  }
  const numClasses = resolveClassCount(file, targets, {
    numClasses: opts.numClasses ?? classNames?.length,
    allowMissingClasses: opts.allowMissingClasses,
  });
  const root = opts.root ?? path.dirname(file);
  const abs = paths.map((p) => path.resolve(root, p));
  if (opts.checkFiles ?? true) checkFilesExist(file, abs, (i) => `line ${bodyLines[i]}`);
  return new FileImageSource({
    name: opts.name ?? `csv:${path.basename(file)}`,
    file,
    paths: abs,
    targets,
    numClasses,
    classNames,
  });
}
