// `model.initFrom`: fine-tuning from any encoder. The source is a run directory (its current checkpoint's
// model.safetensors), a checkpoint folder, or a safetensors file made by PyTorch. Only the backbone is
// loaded — every model key outside `model.headPrefix` — and the model keeps its fresh head.
//
// Source keys lose the wrappers PyTorch training code puts around an encoder, repeatedly and in any order:
// `module.` (DataParallel / DistributedDataParallel), `encoder_q.` (MoCo's query encoder), `backbone.`
// (SimCLR / BYOL / SSL frameworks), so `module.encoder_q.layer1.0.conv1.weight` → `layer1.0.conv1.weight`.
// Everything else the source holds is reported as skipped: its head, MoCo's momentum encoder `encoder_k.*`
// and `queue`, MLP projection layers.
//
// Loading is all or nothing. The reference code loads with `strict=False` and silently keeps the random
// init when every key carries a `module.` prefix; here a backbone key the source lacks (BatchNorm's
// `num_batches_tracked` excepted), a key of another shape, or a source that matches nothing is an error that
// names the file and the keys — and the model is left untouched: everything is checked before one value is
// copied (in place, under noGrad, so optimizers built on the model stay valid).
import * as fs from 'fs';
import * as path from 'path';
import type { Tensor } from '../engine/tensor';
import { dispose } from '../engine/tensor';
import { parseSafetensors } from '../engine/safetensors';
import type { ClassifierModel } from '../models/classifier';
import { CheckpointStore, MANIFEST } from './checkpoint';

/** The wrapper prefixes stripped from source keys (repeatedly, in any order). */
export const INIT_PREFIXES: readonly string[] = ['module.', 'encoder_q.', 'backbone.'];

/** Backbone keys a source may lack: BatchNorm's step counters (PyTorch only reads them with momentum=None). */
const OPTIONAL = /(^|\.)num_batches_tracked$/;

const MODEL_FILE = 'model.safetensors';
const EXPECTED =
  'expected a run directory (with checkpoints/latest.json), a checkpoint folder (with model.safetensors) ' +
  'or a .safetensors file';

export interface InitReport {
  /** The spec as given (`model.initFrom`). */
  source: string;
  /** The safetensors file read. */
  file: string;
  /** Model keys filled from the source, in the model's state-dict order. */
  loaded: string[];
  /** Source keys (as named in the file) not used: its head, momentum encoder, queue, projection layers, … */
  skipped: string[];
  /** Backbone keys the source lacks (on success only optional ones: BatchNorm's num_batches_tracked). */
  missing: string[];
  /** The prefixes removed from the loaded keys' names, e.g. ['module.encoder_q.'] (none: []). */
  strippedPrefixes: string[];
}

/** A key without its wrapper prefixes, and the prefix removed ('' when none). */
export function stripInitPrefixes(key: string): { key: string; prefix: string } {
  let k = key;
  for (let more = true; more;) {
    more = false;
    for (const p of INIT_PREFIXES) {
      if (k.startsWith(p) && k.length > p.length) {
        k = k.slice(p.length);
        more = true;
      }
    }
  }
  return { key: k, prefix: key.slice(0, key.length - k.length) };
}

interface ResolvedSource {
  file: string;
  /** The file's bytes (verified against the manifest when a manifest names it). */
  read(): Buffer;
}

const fail = (msg: string): never => {
  throw new Error(`model.initFrom: ${msg}`);
};

function readPlain(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    return fail(`${file}: cannot read (${(e as Error).message})`);
  }
}

/** The current checkpoint's model.safetensors of a checkpoints/ folder (holding latest.json). */
function fromStore(dir: string, what: string): ResolvedSource {
  const store = new CheckpointStore(dir);
  let file: string | null;
  try {
    file = store.file(MODEL_FILE);
  } catch (e) {
    return fail(`${what}: ${(e as Error).message}`);
  }
  if (file === null) return fail(`${what}: its current checkpoint (${path.join(dir, MANIFEST)}) has no ${MODEL_FILE}`);
  if (!fs.existsSync(file)) {
    return fail(`${what}: ${file}, named by ${path.join(dir, MANIFEST)}, does not exist`);
  }
  return {
    file,
    read: () => {
      try {
        return store.read(MODEL_FILE);
      } catch (e) {
        return fail((e as Error).message);
      }
    },
  };
}

function resolve(spec: string): ResolvedSource {
  if (typeof spec !== 'string' || spec.trim() === '') return fail(`no source given (${EXPECTED})`);
  const p = path.resolve(spec);
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return fail(`'${spec}' does not exist (${EXPECTED})`);
  }
  if (st.isFile()) {
    if (p.endsWith('.safetensors')) return { file: p, read: () => readPlain(p) };
    const hint = /\.(pth|pt|tar|ckpt|bin)$/.test(p)
      ? "; convert a PyTorch checkpoint with safetensors.torch.save_file(torch.load(f)['state_dict'], 'out.safetensors')"
      : '';
    return fail(`'${spec}' is not a .safetensors file (${EXPECTED})${hint}`);
  }
  if (!st.isDirectory()) return fail(`'${spec}' is neither a file nor a directory (${EXPECTED})`);
  const ckpts = path.join(p, 'checkpoints');
  if (fs.existsSync(path.join(ckpts, MANIFEST))) return fromStore(ckpts, `run directory ${p}`);
  if (fs.existsSync(path.join(p, 'run.json')))
    return fail(`run directory ${p} has no checkpoint yet (no checkpoints/${MANIFEST})`);
  if (fs.existsSync(path.join(p, MANIFEST))) return fromStore(p, `checkpoints folder ${p}`);
  const file = path.join(p, MODEL_FILE);
  if (fs.existsSync(file)) {
    // A run's current checkpoint is verified against its manifest; any other folder is read as it is.
    const parent = new CheckpointStore(path.dirname(p));
    let current = false;
    try {
      current = parent.manifest()?.id === path.basename(p) && parent.file(MODEL_FILE) !== null;
    } catch {
      current = false;
    }
    return current ? fromStore(parent.dir, `checkpoint folder ${p}`) : { file, read: () => readPlain(file) };
  }
  return fail(`'${spec}' is a directory without checkpoints/${MANIFEST} or ${MODEL_FILE} (${EXPECTED})`);
}

/**
 * The safetensors file `model.initFrom` names: a run directory → its current checkpoint's model.safetensors
 * (through checkpoints/latest.json); a checkpoint folder → its model.safetensors; a .safetensors file → itself.
 * Anything else is an error naming `model.initFrom` and what was expected.
 */
export function resolveInitSource(spec: string): string {
  return resolve(spec).file;
}

/** At most `max` items, then "… (N more)". */
function abbreviate(xs: string[], max = 20): string {
  return (xs.length > max ? [...xs.slice(0, max), `… (${xs.length - max} more)`] : xs).join(', ');
}

/**
 * Loads the backbone of `model` from `spec` (see the file header); the head keeps its values. Throws, with
 * the model unchanged, unless every required backbone key is in the source with the model's shape.
 */
export function loadBackbone(model: ClassifierModel, spec: string): InitReport {
  const src = resolve(spec);
  const buf = src.read();
  let tensors: Record<string, Tensor>;
  try {
    tensors = parseSafetensors(buf, src.file).tensors;
  } catch (e) {
    return fail((e as Error).message);
  }
  try {
    return loadInto(model, spec, src.file, tensors);
  } finally {
    dispose(Object.values(tensors));
  }
}

function loadInto(model: ClassifierModel, spec: string, file: string, tensors: Record<string, Tensor>): InitReport {
  const shapes = model.stateDictShapes();
  const head = model.headPrefix;
  const backbone = Object.keys(shapes).filter((k) => !k.startsWith(head));
  const wanted = new Set(backbone);
  // Source keys by their stripped name; only backbone names are used.
  const byName = new Map<string, { original: string; prefix: string }[]>();
  for (const original of Object.keys(tensors)) {
    const { key, prefix } = stripInitPrefixes(original);
    if (!wanted.has(key)) continue;
    const list = byName.get(key) ?? [];
    list.push({ original, prefix });
    byName.set(key, list);
  }
  const problems: string[] = [];
  const ambiguous = [...byName].filter(([, l]) => l.length > 1);
  if (ambiguous.length > 0) {
    problems.push(
      `${ambiguous.length} backbone key(s) appear more than once after stripping ${INIT_PREFIXES.join(' / ')}: ` +
        abbreviate(
          ambiguous.map(([k, l]) => `${k} (${l.map((s) => s.original).join(', ')})`),
          5,
        ),
    );
  }
  const absent = backbone.filter((k) => !byName.has(k));
  const missingRequired = absent.filter((k) => !OPTIONAL.test(k));
  const required = backbone.filter((k) => !OPTIONAL.test(k)).length;
  if (missingRequired.length === required) {
    // Nothing (or only BatchNorm step counters) matched: a wrong prefix, or another architecture.
    const sample = Object.keys(tensors).slice(0, 5);
    problems.push(
      `none of the model's ${backbone.length} backbone keys is in the file (after stripping ` +
        `${INIT_PREFIXES.join(' / ')}); missing: ${abbreviate(missingRequired)}; ` +
        (sample.length === 0 ? 'the file holds no tensors' : `the file's keys look like: ${abbreviate(sample, 5)}`),
    );
  } else if (missingRequired.length > 0) {
    problems.push(
      `only part of the backbone is in the file: ${missingRequired.length} of ${required} backbone keys missing: ` +
        abbreviate(missingRequired),
    );
  }
  const mismatched: string[] = [];
  for (const key of backbone) {
    const s = byName.get(key)?.[0];
    if (s === undefined) continue;
    const a = tensors[s.original].shape;
    const b = shapes[key];
    if (a.length !== b.length || a.some((v, i) => v !== b[i])) {
      mismatched.push(`${key}: file [${a}]${s.prefix ? ` (as ${s.original})` : ''} vs model [${b}]`);
    }
  }
  if (mismatched.length > 0) {
    const list =
      mismatched.length > 20 ? [...mismatched.slice(0, 20), `… (${mismatched.length - 20} more)`] : mismatched;
    problems.push(`${mismatched.length} key(s) with another shape:\n    ${list.join('\n    ')}`);
  }
  if (problems.length > 0) {
    return fail(
      `cannot initialise the ${model.constructor.name} backbone from ${file} (nothing was loaded):\n  ` +
        problems.join('\n  '),
    );
  }
  // Everything checked: copy (Module.loadStateDict validates again and copies under noGrad, in place).
  const record: Record<string, Tensor> = {};
  const loaded = backbone.filter((k) => byName.has(k));
  const used = new Set<string>();
  const prefixes = new Set<string>();
  for (const k of loaded) {
    const s = byName.get(k)![0];
    record[k] = tensors[s.original];
    used.add(s.original);
    if (s.prefix !== '') prefixes.add(s.prefix);
  }
  model.loadStateDict(record, { strict: false });
  return {
    source: spec,
    file,
    loaded,
    skipped: Object.keys(tensors).filter((k) => !used.has(k)),
    missing: absent,
    strippedPrefixes: [...prefixes],
  };
}

/**
 * Keys grouped by wrapper prefix + first name component, in first-seen order: 'module.encoder_k.* (46)',
 * 'module.encoder_q.fc.* (4)', 'module.queue' (a group of one is shown as the key itself).
 */
function groupKeys(keys: string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const { key, prefix } = stripInitPrefixes(k);
    const dot = key.indexOf('.');
    const g = dot < 0 ? k : `${prefix}${key.slice(0, dot + 1)}*`;
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  return [...groups].map(([g, ks]) => (ks.length === 1 ? ks[0] : `${g} (${ks.length})`));
}

/** A few lines for the log: what was loaded from where, and the keys skipped / absent (abbreviated). */
export function formatInitReport(r: InitReport, maxKeys = 8): string {
  const prefixes =
    r.strippedPrefixes.length > 0 ? ` (prefix ${r.strippedPrefixes.map((p) => `'${p}'`).join(', ')} stripped)` : '';
  const lines = [
    `model.initFrom ${r.file}: loaded ${r.loaded.length} backbone tensors${prefixes}; the head keeps its fresh init`,
  ];
  if (r.skipped.length > 0)
    lines.push(`  skipped ${r.skipped.length} source keys: ${abbreviate(groupKeys(r.skipped), maxKeys)}`);
  if (r.missing.length > 0) {
    lines.push(`  not in the source (kept as initialised): ${r.missing.length}: ${abbreviate(r.missing, maxKeys)}`);
  }
  return lines.join('\n');
}
