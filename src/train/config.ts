// Training configuration: zod schema (types inferred from it), presets, config files (JSON/YAML)
// and dotted `--set key=value` overrides. Unknown keys and bad values are errors that name the
// dotted path and the allowed values. Defaults are the reference CIFAR schedule (SPEC §5).
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import YAML from 'yaml';
const stage = z.enum(['input', 'stem', 'layer1', 'layer2', 'layer3']);

export const DATASETS = ['fmnist-lt', 'cifar10-lt', 'cifar100-lt', 'svhn-lt', 'synthetic'] as const;

export const TrainConfigSchema = z
  .object({
    name: z.string().min(1).optional().describe('run name (default: derived from dataset, rho, recipe and time)'),
    outDir: z.string().default('runs').describe('folder that holds run directories'),
    seed: z.number().int().nonnegative().default(0),
    device: z.string().default('cpu'),
    threads: z.number().int().positive().optional().describe('libtorch intra-op threads (default: cores)'),
    data: z
      .object({
        dataset: z.enum(DATASETS).default('fmnist-lt'),
        root: z.string().optional().describe("dataset folder (default: the dataset's usual place)"),
        imbType: z.enum(['exp', 'step']).default('exp'),
        rho: z.number().min(1).default(100),
        imgMax: z.number().int().positive().optional().describe('images of the largest class (dataset default)'),
        subsetMode: z.enum(['reference', 'ltkit']).default('reference'),
        valPerClass: z
          .number()
          .int()
          .nonnegative()
          .default(0)
          .describe('images per class held out of the training pool for model selection'),
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
      })
      .strict()
      .default({}),
    model: z
      .object({
        name: z.string().default('resnet32'),
        normedLinear: z.enum(['auto', 'on', 'off']).default('auto').describe('cosine head; auto = on for ldam'),
      })
      .strict()
      .default({}),
    method: z
      .object({
        recipe: z.string().default('ce'),
        gamma: z.number().nonnegative().default(1),
        maxMargin: z.number().positive().default(0.5),
        s: z.number().positive().default(30),
        tau: z.number().default(1),
        cbBeta: z.number().min(0).lt(1).default(0.9999),
        deferFraction: z.number().min(0).max(1).default(0.8),
        mfw: z
          .object({
            alpha: z.number().positive().default(1),
            beta: z.union([z.literal('auto'), z.number().positive()]).default('auto'),
            stage: stage.default('layer1'),
          })
          .strict()
          .default({}),
        mixup: z
          .object({
            alpha: z.number().nonnegative().default(1),
            stages: z.array(stage).default(['input', 'layer1', 'layer2']),
          })
          .strict()
          .default({}),
        remix: z
          .object({
            alpha: z.number().nonnegative().default(1),
            kappa: z.number().positive().default(3),
            tau: z.number().default(0.5),
          })
          .strict()
          .default({}),
        crt: z
          .object({
            epochs: z.number().int().positive().default(10),
            lr: z.number().positive().default(0.1),
            samplesPerClass: z.number().int().positive().default(4),
          })
          .strict()
          .default({}),
        tauNorm: z
          .object({ taus: z.array(z.number()).default([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]) })
          .strict()
          .default({}),
        lws: z
          .object({ epochs: z.number().int().positive().default(5), lr: z.number().positive().default(0.1) })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    optim: z
      .object({
        lr: z.number().positive().default(0.1),
        momentum: z.number().min(0).default(0.9),
        weightDecay: z.number().min(0).default(2e-4),
        nesterov: z.boolean().default(false),
      })
      .strict()
      .default({}),
    schedule: z
      .object({
        type: z.enum(['cifar', 'cosine', 'constant']).default('cifar'),
        warmupEpochs: z.number().int().nonnegative().default(5),
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
        checkpointEvery: z.number().int().positive().default(1),
        progress: z.enum(['auto', 'on', 'off']).default('auto'),
      })
      .strict()
      .default({}),
  })
  .strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

export class ConfigError extends Error {}

/** The keys the schema allows at a dotted path (for unknown-key messages). */
function allowedKeysAt(keys: (string | number)[]): string[] {
  let node: z.ZodTypeAny = TrainConfigSchema;
  for (const k of [...keys, null]) {
    while (node instanceof z.ZodDefault || node instanceof z.ZodOptional) {
      node = node instanceof z.ZodDefault ? node._def.innerType : node.unwrap();
    }
    if (!(node instanceof z.ZodObject)) return [];
    if (k === null) return Object.keys(node.shape);
    node = (node.shape as Record<string, z.ZodTypeAny>)[String(k)];
    if (node === undefined) return [];
  }
  return [];
}

function formatIssues(err: z.ZodError, source: string): string {
  return err.issues
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
    let node = cfg;
    for (const k of keys.slice(0, -1)) {
      const next = node[k];
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

function preset(dataset: string, rho: number, imbType: 'exp' | 'step', recipe: string): Record<string, unknown> {
  return { data: { dataset, rho, imbType }, method: { recipe } };
}

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
  return out;
})();
