// Training configuration: zod schema (types inferred from it), presets, config files (JSON/YAML)
// and dotted `--set key=value` overrides. Unknown keys and bad values are errors that name the
// dotted path and the allowed values. Defaults are the reference CIFAR schedule (SPEC §5).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { z } from 'zod';
import YAML from 'yaml';
import { CATALOG_NAMES } from '../data/catalog';
import { SYNTHETIC } from '../data/train-data';
import { FILE_DATASET_NAMES } from '../data/stream/file-data';
import { methodSchema, parseRecipe } from '../methods';
import { ConfigError, RecipeError } from '../core/errors';
import { PRETEXT_METHODS } from '../ssp/names';
import { isCudaDevice } from '../engine/precision';

/**
 * The values `data.dataset` takes: the catalogue's data sets, the generated one and the streamed file data sets
 * (src/data/stream/file-data.ts); own images as `folder:<dir>`, `list:<file>` or `csv:<file>`.
 */
export const DATASETS: readonly string[] = [...CATALOG_NAMES, SYNTHETIC, ...FILE_DATASET_NAMES];
const OWN_DATA = /^(folder|list|csv):.+$/;
const datasetName = z
  .string()
  .superRefine((v, ctx) => {
    if (DATASETS.includes(v) || OWN_DATA.test(v)) return;
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message:
        `'${v}' is not allowed (allowed: ${DATASETS.join(', ')}, ` +
        `or folder:<dir>, list:<file>, csv:<file> for your own images)`,
    });
  })
  .transform((v) => {
    const m = /^(folder|list|csv):(.+)$/.exec(v);
    return m ? `${m[1]}:${expandHome(m[2])}` : v;
  });

/** A leading `~` (alone or before '/') is the user's home folder, as in a shell. */
export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}
const pathString = z.string().min(1).transform(expandHome);
const positive = z.number().positive().finite();

/**
 * `false`, or the settings `schema` describes (`true`: its defaults). Errors name the key inside the section,
 * e.g. `analysis.gradNorms.at`, and say what the key takes.
 */
function offOr<T extends z.ZodTypeAny>(schema: T, example: string) {
  return z.unknown().transform((v, ctx): z.infer<T> | false => {
    if (v === undefined || v === false) return false;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      if (v !== true) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `${JSON.stringify(v)} is not allowed (false, or ${example})`,
        });
        return z.NEVER;
      }
    }
    const r = schema.safeParse(v === true ? {} : v);
    if (r.success) return r.data;
    for (const i of r.error.issues) {
      const { code, path: at, message } = i;
      const allowed = code === 'unrecognized_keys' ? ` (allowed: ${Object.keys(schema._def.shape()).join(', ')})` : '';
      const why =
        code === 'invalid_enum_value'
          ? `'${String(i.received)}' is not allowed (allowed: ${i.options.join(', ')})`
          : message;
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: at, message: why + allowed });
    }
    return z.NEVER;
  });
}

/** Model stages a gradient can be taken at (models/classifier.ts Stage; the model is checked at run time). */
const MODEL_STAGES = z.enum(['input', 'stem', 'layer1', 'layer2', 'layer3', 'layer4']);

/** Opt-in analyses recorded during training into <run>/analysis.jsonl (src/analysis; SPEC §6, S2 §3.4, §5.4). */
function analysisSchema() {
  return z
    .object({
      progress: z
        .boolean()
        .default(false)
        .describe('per-class training accuracy and classification ratio on a clean pass (S2 Fig. 1, 3)'),
      gradNorms: offOr(
        z.object({ at: MODEL_STAGES.describe('the model stage g(x) whose gradient is measured') }).strict(),
        "{ at: 'layer1' }",
      ).describe("mean ‖∇_g(x) ℓ‖ per class at a model stage (S2 Fig. 4): false or { at: 'layer1' }"),
      deviation: offOr(
        z
          .object({
            epochs: z
              .union([z.literal('end'), z.array(z.number().int().positive()).min(1)])
              .default('end')
              .describe("after these epochs (counted from 1), or 'end' (the last)"),
            R: z.number().int().positive().default(1000).describe('subsampling rounds'),
          })
          .strict(),
        "{ epochs: 'end' | [1, 100, 200], R: 1000 }",
      ).describe('per-class train/test feature deviation (S2 §5.4): false, true or { epochs, R }'),
      every: z
        .number()
        .int()
        .positive()
        .default(1)
        .describe('progress and gradNorms after every this many epochs (and the last)'),
    })
    .strict()
    .default({})
    .describe('opt-in analyses written to analysis.jsonl (run.json records them)');
}

export const TrainConfigSchema = z
  .object({
    name: z.string().min(1).optional().describe('run name (default: derived from dataset, rho, recipe and time)'),
    outDir: pathString.default('runs').describe('folder that holds run directories'),
    seed: z.number().int().nonnegative().default(0),
    device: z.string().default('cpu'),
    threads: z.number().int().positive().optional().describe('libtorch intra-op threads (default: cores)'),
    data: z
      .object({
        dataset: datasetName.default('fmnist-lt'),
        root: pathString.optional().describe("dataset folder (default: the dataset's usual place)"),
        imbType: z.enum(['exp', 'step']).default('exp'),
        rho: z.number().min(1).finite().default(100),
        imgMax: z.number().int().positive().optional().describe('images of the largest class (dataset default)'),
        subsetMode: z.enum(['reference', 'ltkit']).default('reference'),
        subsetSeed: z
          .number()
          .int()
          .nonnegative()
          .default(0)
          .describe("picks the long-tailed subset and validation images (the reference's rand_number), not `seed`"),
        valPerClass: z
          .number()
          .int()
          .nonnegative()
          .default(0)
          .describe('images per class held out of the training pool for model selection'),
        // Streamed file data sets (imagenet-lt, inat2018, places-lt, folder:/list:/csv:), src/data/stream.
        cropSize: z
          .number()
          .int()
          .min(8)
          .default(224)
          .describe('streamed data: RandomResizedCrop / CenterCrop side (SPEC §1.4: 224)'),
        workSize: z
          .number()
          .int()
          .positive()
          .optional()
          .describe('streamed data: square working image the training crop is taken from (default cropSize·256/224)'),
        testResize: z
          .number()
          .int()
          .positive()
          .optional()
          .describe(
            'streamed data: test Resize of the shorter side before CenterCrop (default cropSize·256/224 = 256)',
          ),
        colorJitter: z
          .union([z.literal('auto'), z.boolean()])
          .default('auto')
          .describe('streamed data: ColorJitter(0.4,0.4,0.4,0) in training; auto = on except for inat2018'),
        badImages: z
          .enum(['skip', 'fail'])
          .default('skip')
          .describe(
            'streamed data: an unreadable image is reported and dropped from its batch (skip) or stops the run',
          ),
        prefetch: z.number().int().min(0).max(16).default(2).describe('streamed data: batches decoded ahead'),
        valFraction: z
          .number()
          .min(0)
          .max(0.9)
          .optional()
          .describe('own data: fraction of each class held out for validation (default 0.1 unless valPerClass)'),
        testFraction: z
          .number()
          .min(0)
          .max(0.9)
          .default(0.2)
          .describe('own data without data.test: fraction of each class held out as the test split'),
        test: z
          .string()
          .regex(OWN_DATA, 'folder:<dir>, list:<file> or csv:<file>')
          .optional()
          .describe('own data: the test images (folder:/list:/csv:) instead of a held-out part'),
        synthetic: z
          .object({
            numClasses: z.number().int().min(2).default(4),
            imgMax: z.number().int().positive().default(24),
            size: z.number().int().min(4).default(16),
            channels: z.number().int().min(1).default(3),
            testPerClass: z.number().int().positive().default(8),
          })
          .strict()
          .default({}),
        unlabeled: z
          .object({
            k: positive.default(5).describe('DU@k×: the pool holds k × |labeled| images (S1: k = 5)'),
            rhoU: z
              .number()
              .min(1)
              .finite()
              .default(1)
              .describe('imbalance ratio ρU of the pool (S1 grid: 1, ρ/2, ρ, 2ρ)'),
            relevance: z
              .number()
              .min(0)
              .max(1)
              .default(1)
              .describe('fraction r of the pool from the task; the rest from outOfTask (S1 Fig. 2)'),
            outOfTask: z
              .string()
              .min(1)
              .default('mnist')
              .describe(
                'irrelevant images when relevance < 1: mnist (handwritten digits, 28×28×1), folder:<dir>, list:<file>',
              ),
            images: z
              .string()
              .min(1)
              .optional()
              .describe('your own unlabeled images (folder:<dir> or list:<file>) instead of the held-out pool'),
            pseudoLabels: pathString
              .optional()
              .describe(
                'pseudo-labels.json (or the base run folder) from `ltkit pseudo-label`: train on labeled ∪ pseudo-labeled',
              ),
            use: z
              .enum(['concat', 'stream'])
              .default('concat')
              .describe(
                'pseudo-labels joined to the training set (reference) or as a second stream weighted by `weight`',
              ),
            weight: z.number().min(0).finite().default(1).describe('ω of the pseudo-label stream (use: stream)'),
            ratio: positive
              .default(1)
              .describe('unlabeled images per labeled image in each step (μ; stream and unlabeled methods)'),
          })
          .strict()
          .optional()
          .describe('an unlabeled pool for semi-supervised training (S1 §3)'),
      })
      .strict()
      .default({}),
    model: z
      .object({
        name: z.string().default('resnet32'),
        normedLinear: z.enum(['auto', 'on', 'off']).default('auto').describe('cosine head; auto = on for ldam'),
        initFrom: pathString
          .optional()
          .describe('start from this encoder: a run, a checkpoint folder or a safetensors file (backbone only)'),
      })
      .strict()
      .default({}),
    method: methodSchema().default({}),
    pretrain: z
      .object({
        method: z
          .enum(['none', ...PRETEXT_METHODS])
          .default('none')
          .describe('this run pre-trains an encoder without labels (ltkit pretrain) instead of classifying'),
        epochs: z
          .number()
          .int()
          .positive()
          .optional()
          .describe('epochs of the pre-training run an ssp-* recipe component makes (default train.epochs)'),
        knn: z
          .object({
            every: z.number().int().positive().default(5).describe('kNN monitor every this many epochs'),
            k: z.number().int().positive().default(200),
            temperature: z.number().positive().finite().default(0.1),
          })
          .strict()
          .default({}),
        moco: z
          .object({
            dim: z.number().int().positive().default(128).describe('embedding size'),
            queue: z
              .union([z.literal('auto'), z.number().int().positive()])
              .default('auto')
              .describe('negatives K; auto = the largest multiple of the batch up to half the images'),
            momentum: z.number().min(0).max(1).default(0.999),
            temperature: z.number().positive().finite().default(0.2),
            bnGroups: z
              .union([z.literal('auto'), z.number().int().positive()])
              .default('auto')
              .describe('BatchNorm groups emulating shuffle-BN in one process; auto = batch/32, at least 2'),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    optim: z
      .object({
        lr: positive.default(0.1),
        momentum: z.number().min(0).finite().default(0.9),
        weightDecay: z.number().min(0).finite().default(2e-4),
        nesterov: z.boolean().default(false),
      })
      .strict()
      .default({}),
    schedule: z
      .object({
        type: z.enum(['cifar', 'cosine', 'constant']).default('cifar'),
        warmupEpochs: z.number().int().nonnegative().default(5),
        decayAt: z
          .tuple([z.number().min(0).max(1), z.number().min(0).max(1)])
          .default([0.8, 0.9])
          .describe('cifar schedule: ×0.01 and ×0.0001 after these fractions of the epochs (160/180 of 200)'),
      })
      .strict()
      .default({}),
    train: z
      .object({
        epochs: z.number().int().positive().default(200),
        batchSize: z.number().int().positive().default(128),
        evalEvery: z.number().int().positive().default(1),
        maxStepsPerEpoch: z.number().int().positive().optional().describe('cap steps per epoch (smoke tests)'),
        augment: z.boolean().default(true),
        channelsLast: z
          .boolean()
          .default(true)
          .describe('channels-last memory order for the model and batches (faster oneDNN convolutions on CPU)'),
        // Default fp32: the papers' numbers and ltkit's goldens are fp32, and bf16 is emulated (slower than fp32)
        // on CPUs without bf16 instructions; 'auto' opts in where the CPU has them.
        precision: z
          .enum(['fp32', 'bf16', 'fp16', 'auto'])
          .default('fp32')
          .describe(
            'fp32; bf16 (autocast to bfloat16); fp16 (CUDA only: autocast to float16 + gradient scaler); ' +
              'auto (bf16 where the CPU has avx512_bf16 or amx_bf16, else fp32)',
          ),
        findUnusedParameters: z
          .boolean()
          .default(false)
          .describe(
            "with several processes: look for parameters a step leaves without a gradient (DDP's " +
              'find_unused_parameters; costs a graph walk per step) — needed only by models with such branches',
          ),
        syncBatchNorm: z
          .boolean()
          .default(false)
          .describe(
            "with several processes (ltkit launch): BatchNorm statistics over all ranks' batches (SyncBatchNorm) " +
              "instead of each process's own (DDP's default)",
          ),
        checkpointEvery: z.number().int().positive().default(1),
        progress: z.enum(['auto', 'on', 'off']).default('auto'),
      })
      .strict()
      .default({}),
    analysis: analysisSchema(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // No setting takes an infinite or NaN value (e.g. --set optim.lr=1e999).
    const walk = (v: unknown, at: (string | number)[]): void => {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: at, message: `${v} is not a finite number` });
      } else if (v !== null && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) walk(x, [...at, Array.isArray(v) ? Number(k) : k]);
      }
    };
    walk(cfg, []);
    // libtorch's CPU autocast has no float16 (PyTorch disables it with a warning); fp16 needs a GPU.
    const device = typeof cfg.device === 'string' ? cfg.device : 'cpu';
    if ((cfg.train as { precision?: string }).precision === 'fp16' && !isCudaDevice(device)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['train', 'precision'],
        message: `'fp16' needs a CUDA device (device is '${device}'); on CPU use 'bf16' or 'auto'`,
      });
    }
    // Warm-up must leave epochs to schedule (cosine: checked here, before a run directory exists).
    const sch = cfg.schedule as { type?: string; warmupEpochs?: number };
    const epochs = (cfg.train as { epochs?: number }).epochs;
    if (sch.type === 'cosine' && typeof epochs === 'number' && !(epochs > (sch.warmupEpochs ?? 0))) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['schedule', 'warmupEpochs'],
        message: `${sch.warmupEpochs} warm-up epochs leave none of train.epochs (${epochs}) to the cosine schedule`,
      });
    }
    try {
      parseRecipe(cfg.method.recipe as string);
    } catch (e) {
      if (!(e instanceof RecipeError)) throw e;
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['method', 'recipe'],
        message: e.message.replace(/^method\.recipe /, ''),
      });
    }
  });

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

export { ConfigError };

/** The keys the schema allows at a dotted path (for unknown-key messages). */
function allowedKeysAt(keys: (string | number)[]): string[] {
  let node: z.ZodTypeAny = TrainConfigSchema;
  for (const k of [...keys, null]) {
    while (node instanceof z.ZodDefault || node instanceof z.ZodOptional || node instanceof z.ZodEffects) {
      node =
        node instanceof z.ZodDefault
          ? node._def.innerType
          : node instanceof z.ZodEffects
            ? node._def.schema
            : node.unwrap();
    }
    if (!(node instanceof z.ZodObject)) return [];
    if (k === null) return Object.keys(node.shape);
    node = (node.shape as Record<string, z.ZodTypeAny>)[String(k)];
    if (node === undefined) return [];
  }
  return [];
}

function formatIssues(err: z.ZodError, source: string): string {
  // One message per key (a value can fail two checks, e.g. a field's own .finite() and the global one).
  const seen = new Set<string>();
  return err.issues
    .filter((i) => {
      const k = i.path.join('.');
      if (i.code !== 'unrecognized_keys' && seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .map((i) => {
      const key = i.path.join('.') || '(root)';
      let why = i.message;
      if (i.code === 'invalid_enum_value')
        why = `'${String(i.received)}' is not allowed (allowed: ${i.options.join(', ')})`;
      if (i.code === 'unrecognized_keys') {
        const allowed = allowedKeysAt(i.path);
        return `${source}: unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys
          .map((k) => (key === '(root)' ? k : `${key}.${k}`))
          .join(', ')}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`;
      }
      return `${source}: ${key}: ${why}`;
    })
    .join('\n');
}

/** Validates a config object, filling defaults; throws ConfigError naming each bad dotted key. */
export function resolveConfig(input: unknown, source = 'config'): TrainConfig {
  const r = TrainConfigSchema.safeParse(input ?? {});
  if (!r.success) throw new ConfigError(formatIssues(r.error, source));
  return r.data;
}

/** Reads a JSON or YAML config file (or a preset name) into a plain object. */
export function readConfigFile(file: string): Record<string, unknown> {
  if (PRESETS[file]) return structuredClone(PRESETS[file]);
  if (!fs.existsSync(file)) {
    const names = Object.keys(PRESETS);
    throw new ConfigError(
      `config file ${file} does not exist (and is not one of the ${names.length} presets, e.g. ` +
        `cifar10-lt-exp100-ldam+drw, fmnist-lt; see 'ltkit list presets')`,
    );
  }
  const text = fs.readFileSync(file, 'utf8');
  try {
    const ext = path.extname(file).toLowerCase();
    const v = ext === '.json' ? JSON.parse(text) : YAML.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('the top level must be a mapping');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`config file ${file}: ${(e as Error).message}`);
  }
}

/** Parses a command-line value: JSON-ish literals (numbers, booleans, arrays), else a string. */
function parseValue(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v === 'null') return null;
  if (v !== '' && !Number.isNaN(Number(v))) return Number(v);
  if (v.startsWith('[') || v.startsWith('{')) {
    try {
      return JSON.parse(v);
    } catch {
      throw new ConfigError(`--set value ${v} is not valid JSON`);
    }
  }
  return v;
}

/** Applies `a.b.c=value` overrides to a config object (in place). */
export function applyOverrides(cfg: Record<string, unknown>, sets: string[]): Record<string, unknown> {
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--set ${s}: expected key=value, e.g. train.epochs=30`);
    const keys = s.slice(0, eq).split('.');
    const bad = keys.find((k) => k === '' || k === '__proto__' || k === 'constructor' || k === 'prototype');
    if (bad !== undefined) throw new ConfigError(`--set ${s}: '${bad}' is not a config key`);
    let node = cfg;
    for (const k of keys.slice(0, -1)) {
      const next = Object.prototype.hasOwnProperty.call(node, k) ? node[k] : undefined;
      if (next === undefined) node[k] = {};
      else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        throw new ConfigError(`--set ${s}: ${k} is not a section`);
      }
      node = node[k] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]] = parseValue(s.slice(eq + 1));
  }
  return cfg;
}

/** Settings that cannot change a run's result: a resumed run may change them. */
export const RESUME_FREE_KEYS: readonly string[] = [
  'name',
  'outDir',
  'threads',
  'train.progress',
  'train.checkpointEvery',
];

/** Dotted leaf keys of a config and their values (arrays and other non-objects are leaves). */
function leaves(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, JSON.stringify(v));
  return out;
}

/**
 * The configuration a resumed run continues with: the run's own (`saved`, from run.json), with the
 * result-neutral settings of `requested` (RESUME_FREE_KEYS). Any other difference is refused, listing
 * the differing dotted keys — a resumed run never mixes two configurations.
 */
export function resumeConfig(saved: TrainConfig, requested: TrainConfig, source = 'run.json'): TrainConfig {
  const a = leaves(saved);
  const b = leaves(requested);
  const differ = [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => a.get(k) !== b.get(k) && !RESUME_FREE_KEYS.some((f) => k === f || k.startsWith(f + '.')))
    .sort();
  if (differ.length > 0) {
    const show = differ.map((k) => `${k} (run: ${a.get(k) ?? 'unset'}, now: ${b.get(k) ?? 'unset'})`);
    throw new ConfigError(
      `--resume: the configuration differs from ${source} in ${differ.length} setting${differ.length > 1 ? 's' : ''} ` +
        `that change${differ.length > 1 ? '' : 's'} the result: ${show.join('; ')}. Resume with the run's own ` +
        `configuration (leave out --config/--set), or start a new run under another --name`,
    );
  }
  const out = structuredClone(saved) as Record<string, unknown>;
  for (const key of RESUME_FREE_KEYS) {
    const parts = key.split('.');
    const last = parts.pop() as string;
    const dst = parts.reduce((o, k) => o[k] as Record<string, unknown>, out);
    const src = parts.reduce(
      (o, k) => o[k] as Record<string, unknown>,
      requested as unknown as Record<string, unknown>,
    );
    dst[last] = src[last];
  }
  return out as TrainConfig;
}

function preset(dataset: string, rho: number, imbType: 'exp' | 'step', recipe: string): Record<string, unknown> {
  return { data: { dataset, rho, imbType }, method: { recipe } };
}

/** One line about each preset that is not named after its recipe (the S1 semi-supervised grid). */
export const PRESET_NOTES: Record<string, string> = {};

/**
 * Presets for the papers' settings: `<dataset>-<imb><rho>-<recipe>`, e.g. `cifar10-lt-exp100-ldam+drw`,
 * plus `fmnist-lt` (the embedded default). The schedule is always the reference one (SPEC §5).
 */
export const PRESETS: Record<string, Record<string, unknown>> = (() => {
  const out: Record<string, Record<string, unknown>> = {};
  const recipes = [
    'ce',
    'focal',
    'ldam',
    'ce+reweight',
    'focal+reweight',
    'ldam+reweight',
    'ce+drw',
    'focal+drw',
    'ldam+drw',
    'ce+resample',
    'ldam+resample',
    'ce+drs',
    'ldam+drs',
    'mfw',
    'mfw+drw',
    'mixup',
    'manifold-mixup',
    'remix',
    'remix+drw',
    'ce+crt',
    'ce+tau-norm',
    'ce+lws',
  ];
  for (const ds of ['cifar10-lt', 'cifar100-lt', 'svhn-lt']) {
    for (const rho of [10, 50, 100, 200]) {
      for (const imb of ['exp', 'step'] as const) {
        for (const r of recipes) out[`${ds}-${imb}${rho}-${r}`] = preset(ds, rho, imb, r);
      }
    }
  }
  out['fmnist-lt'] = {
    data: { dataset: 'fmnist-lt', rho: 100, imbType: 'exp' },
    model: { name: 'resnet8' },
    train: { epochs: 12, batchSize: 128 },
    schedule: { warmupEpochs: 1 },
  };
  for (const [name, p] of Object.entries(largeScalePresets())) {
    out[name] = p.config;
    PRESET_NOTES[name] = p.note;
  }
  for (const p of semiSupervisedPresets()) {
    const base = structuredClone(p.dataset === 'fmnist-lt' ? out['fmnist-lt'] : preset(p.dataset, p.rho, 'exp', 'ce'));
    const data = base.data as Record<string, unknown>;
    data.rho = p.rho;
    data.unlabeled = { k: 5, rhoU: p.rhoU, relevance: p.relevance };
    // The reference's semi-supervised runs use batch 256 (SPEC §5).
    base.train = { ...((base.train as object | undefined) ?? {}), batchSize: 256 };
    out[p.name] = base;
    PRESET_NOTES[p.name] = p.note;
  }
  return out;
})();

/**
 * S1's semi-supervised grid (Table 2, Fig. 2): DU@5× with ρU ∈ {1, ρ/2, ρ, 2ρ}, and for FMNIST-LT the
 * relevance r ∈ {0.25, 0.5, 0.75} with handwritten digits as the irrelevant part.
 */
function semiSupervisedPresets(): {
  name: string;
  dataset: string;
  rho: number;
  rhoU: number;
  relevance: number;
  note: string;
}[] {
  const out: ReturnType<typeof semiSupervisedPresets> = [];
  for (const dataset of ['fmnist-lt', 'cifar10-lt', 'svhn-lt']) {
    for (const rho of [10, 50, 100]) {
      for (const rhoU of [1, rho / 2, rho, 2 * rho]) {
        out.push({
          name: `${dataset}-exp${rho}-du5-rhou${rhoU}`,
          dataset,
          rho,
          rhoU,
          relevance: 1,
          note: `DU@5× unlabeled pool at ρU=${rhoU} for ${dataset} ρ=${rho} (batch 256)`,
        });
      }
    }
  }
  for (const r of [0.25, 0.5, 0.75]) {
    out.push({
      name: `fmnist-lt-exp100-du5-r${r}`,
      dataset: 'fmnist-lt',
      rho: 100,
      rhoU: 1,
      relevance: r,
      note: `DU@5× at ρU=1, ${100 * r}% relevant, the rest MNIST digits (S1 Fig. 2)`,
    });
  }
  return out;
}

/**
 * The linear scaling rule for the large-scale setups: lr = 0.2 × batch / 512 (Goyal et al. 2017, "Accurate,
 * Large Minibatch SGD", §2.1; the decoupling code base scales its ImageNet-LT lr the same way from 0.2 @ 512).
 * Use it when a preset's batch does not fit: `--set train.batchSize=128 --set optim.lr=0.05`.
 */
export function scaledLr(batchSize: number): number {
  return (0.2 * batchSize) / 512;
}

/**
 * S1 Tables 4–5 and the decoupling baselines on the streamed benchmarks (SPEC §5, Kang et al. 2020
 * classifier-balancing configs): ResNet-10 / ResNet-50, SGD momentum 0.9, weight decay 5e-4, cosine schedule
 * without warm-up over 90 epochs, lr 0.2 at batch 512 (scaledLr for other batches); RandomResizedCrop 224 +
 * flip (+ ColorJitter except on iNat). Recipes: S1 Tables 3–4's rows — CE with uniform and with
 * class-balanced sampling, cRT (class-aware sampling, 4 per class), LDAM-DRW (iNat) — each also "+ SSP": MoCo v2
 * pre-training on the same streamed images first (200 epochs, K = 65,536 as MoCo on ImageNet; the pre-training
 * run uses the run's optimizer and schedule), then the method from that encoder; and LWS, τ-norm after CE.
 * Names: `<dataset>-<model>-<recipe>`, e.g. imagenet-lt-resnet10-ssp-moco+ce.
 */
function largeScalePresets(): Record<string, { config: Record<string, unknown>; note: string }> {
  // The reference lr and batch (SPEC §5); literals here because PRESETS is built while this module loads.
  const LARGE_SCALE_LR = 0.2;
  const LARGE_SCALE_BATCH = 512;
  const out: Record<string, { config: Record<string, unknown>; note: string }> = {};
  const sets: [string, string, string[]][] = [
    ['imagenet-lt', 'ImageNet-LT', ['resnet10', 'resnet50']],
    ['inat2018', 'iNaturalist 2018', ['resnet50']],
    ['places-lt', 'Places-LT', ['resnet10', 'resnet50']],
  ];
  const recipes: [string, string][] = [
    ['ce', 'CE, uniform sampling (S1 Tables 3–4)'],
    ['ce+resample', 'CE, class-balanced sampling (S1 Tables 3–4 "CE (Balanced)")'],
    ['ce+crt', 'CE then cRT: frozen backbone, new head, class-aware sampling'],
    ['ldam+drw', 'LDAM-DRW (S1 Table 4)'],
    ['ce+lws', 'CE then LWS: learnable per-class logit scales, class-aware sampling'],
    ['ce+tau-norm', 'CE then τ-normalised classifier'],
  ];
  // S1's "+ SSP" rows: the same recipes after MoCo v2 pre-training.
  const withSsp = new Set(['ce', 'ce+resample', 'ce+crt', 'ldam+drw']);
  const variants = recipes.flatMap(([r, what]): [string, string][] =>
    withSsp.has(r)
      ? [
          [r, what],
          [`ssp-moco+${r}`, `${what}, + SSP (MoCo v2, 200 epochs)`],
        ]
      : [[r, what]],
  );
  for (const [dataset, title, modelNames] of sets) {
    for (const model of modelNames) {
      for (const [recipe, what] of variants) {
        out[`${dataset}-${model}-${recipe}`] = {
          config: {
            data: { dataset, cropSize: 224 },
            model: { name: model },
            method: { recipe },
            optim: { lr: LARGE_SCALE_LR, momentum: 0.9, weightDecay: 5e-4 },
            schedule: { type: 'cosine', warmupEpochs: 0 },
            train: { epochs: 90, batchSize: LARGE_SCALE_BATCH },
            ...(recipe.startsWith('ssp-moco+') ? { pretrain: { epochs: 200, moco: { queue: 65536 } } } : {}),
          },
          note:
            `${title}, ${model.replace('resnet', 'ResNet-')}, ${what}; 90 epochs cosine, lr 0.2 @ batch 512 ` +
            `(lr = 0.2·batch/512); needs data.root`,
        };
      }
    }
  }
  return out;
}
