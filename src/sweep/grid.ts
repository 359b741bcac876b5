// Grid files for `ltkit sweep`: a base configuration (a preset or a config file, plus dotted keys) crossed
// with axes — recipes × rho × imbType × any dotted key × seeds × subsetSeeds — expanded into grid points,
// each a fully resolved training configuration with a run name derived from the point alone
// (`<grid>/<dataset>/<recipe>-rho100-exp[-<axis><value>…]-s0-ss0`), so a sweep finds its runs again.
// A file may hold several blocks (e.g. one per dataset, with the ρ values the paper uses for it): each
// block is the file's top level with its own keys on top, and the grid is the union of their points.
// Errors name the file and the key.
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import YAML from 'yaml';
import { ConfigError } from '../core/errors';
import { PRESETS, readConfigFile, resolveConfig, TrainConfig } from '../train/config';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const nonEmpty = <T extends z.ZodTypeAny>(t: T) => z.array(t).min(1, 'needs at least one value');

const BlockShape = {
  /** 'train' (one run per point) or 'self-train' (the pseudo-label chain: base → pseudo-labels → round1). */
  mode: z.enum(['train', 'self-train']).optional(),
  /** A preset name (`ltkit list presets`) or a config file (relative to the grid file). */
  base: z.string().min(1).optional(),
  /** Dotted keys on top of the base, e.g. `train.epochs: 30`. */
  set: z.record(z.unknown()).optional(),
  recipes: nonEmpty(z.string().min(1)).optional(),
  rho: nonEmpty(z.number().min(1)).optional(),
  imbType: nonEmpty(z.enum(['exp', 'step'])).optional(),
  seeds: nonEmpty(z.number().int().nonnegative()).optional(),
  subsetSeeds: nonEmpty(z.number().int().nonnegative()).optional(),
  /** More axes: dotted key → its values. */
  axes: z.record(nonEmpty(z.union([scalar, z.array(scalar), z.record(z.unknown())]))).optional(),
};
const BlockSchema = z.object(BlockShape).strict();
export const GridSchema = z
  .object({
    /** The grid's name: the folder of its runs under outDir (default: the file's name). */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only')
      .optional(),
    description: z.string().optional(),
    /** The runs folder (default 'runs'; `ltkit sweep --out` wins). */
    outDir: z.string().min(1).optional(),
    ...BlockShape,
    blocks: nonEmpty(BlockSchema).optional(),
  })
  .strict();
export type GridFile = z.infer<typeof GridSchema>;
type Block = z.infer<typeof BlockSchema>;

export interface GridPoint {
  /** Run name (relative to outDir): `<grid>/<dataset>/<recipe>-rho…-s<seed>-ss<subsetSeed>`. */
  name: string;
  mode: 'train' | 'self-train';
  config: TrainConfig;
  /** The point's coordinates, for listings. */
  coords: Record<string, unknown>;
}

export interface Grid {
  file: string;
  name: string;
  description: string | null;
  outDir: string;
  points: GridPoint[];
}

/** Reads and validates a grid file (YAML or JSON). */
export function readGridFile(file: string): GridFile {
  if (!fs.existsSync(file)) throw new ConfigError(`grid file ${file} does not exist`);
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`grid file ${file}: ${(e as Error).message}`);
  }
  const r = GridSchema.safeParse(raw ?? {});
  if (!r.success) {
    throw new ConfigError(
      r.error.issues
        .map((i) => {
          const key = i.path.join('.') || '(top level)';
          if (i.code === 'unrecognized_keys') {
            const where = i.path.length ? `${key}.` : '';
            const allowed = Object.keys(i.path.length ? BlockShape : GridSchema.shape).join(', ');
            return `${file}: unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => where + k).join(', ')} (allowed: ${allowed})`;
          }
          return `${file}: ${key}: ${i.message}`;
        })
        .join('\n'),
    );
  }
  return r.data;
}

/** Sets a dotted key in a plain config object (in place); `where` names it in errors. */
function setDotted(cfg: Record<string, unknown>, key: string, value: unknown, where: string): void {
  const keys = key.split('.');
  const bad = keys.find((k) => k === '' || k === '__proto__' || k === 'constructor' || k === 'prototype');
  if (bad !== undefined) throw new ConfigError(`${where}: '${key}' is not a config key`);
  let node = cfg;
  for (const k of keys.slice(0, -1)) {
    const next = Object.prototype.hasOwnProperty.call(node, k) ? node[k] : undefined;
    if (next === undefined) node[k] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new ConfigError(`${where}: '${key}': ${k} is not a section`);
    }
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = structuredClone(value);
}

/** A value as a name part: "0.05" → "0.05", "a/b c" → "a_b_c". */
function namePart(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.replace(/\+/g, '_').replace(/[^A-Za-z0-9._-]+/g, '_');
}

function product(lists: unknown[][]): unknown[][] {
  return lists.reduce<unknown[][]>((acc, l) => acc.flatMap((a) => l.map((x) => [...a, x])), [[]]);
}

/**
 * Expands a grid file into its points. `o.outDir` overrides the file's; `o.sets` (dotted `k=v` strings,
 * as `--set`) apply on top of each block's base and `set`, under its axes.
 */
export function expandGrid(file: string, o: { outDir?: string; sets?: string[] } = {}): Grid {
  const g = readGridFile(file);
  const name = g.name ?? path.basename(file).replace(/\.(ya?ml|json)$/i, '');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new ConfigError(`${file}: name: '${name}' (letters, digits, ".", "_" and "-" only; set name:)`);
  }
  const outDir = path.resolve(o.outDir ?? g.outDir ?? 'runs');
  const top: Block = { ...g };
  delete (top as Record<string, unknown>).blocks;
  const blocks: { block: Block; where: string }[] = (g.blocks ?? [{}]).map((b, i) => ({
    block: { ...top, ...b, set: { ...top.set, ...b.set }, axes: { ...top.axes, ...b.axes } },
    where: g.blocks ? `${file}: blocks.${i}` : file,
  }));
  const points: GridPoint[] = [];
  const seen = new Map<string, string>();
  for (const { block: b, where } of blocks) {
    let base: Record<string, unknown> = {};
    if (b.base) {
      const ref = PRESETS[b.base] ? b.base : path.resolve(path.dirname(file), b.base);
      try {
        base = readConfigFile(ref);
      } catch (e) {
        throw new ConfigError(`${where}: base: ${(e as Error).message}`);
      }
    }
    for (const [k, v] of Object.entries(b.set ?? {})) setDotted(base, k, v, `${where}: set`);
    for (const s of o.sets ?? []) {
      const eq = s.indexOf('=');
      if (eq <= 0) throw new ConfigError(`--set ${s}: expected key=value, e.g. train.epochs=30`);
      const text = s.slice(eq + 1);
      let v: unknown = text;
      try {
        v = JSON.parse(text);
      } catch {
        // a plain string
      }
      setDotted(base, s.slice(0, eq), v, `--set ${s}`);
    }
    // Axes in the order of the name: recipe, rho, imbType, the dotted axes, seed, subset seed.
    const extra = Object.keys(b.axes ?? {});
    const last = (k: string) => k.split('.').pop() as string;
    const label = (k: string) => (extra.filter((x) => last(x) === last(k)).length > 1 ? k : last(k));
    const axes: { key: string; values: unknown[] }[] = [
      { key: 'method.recipe', values: b.recipes ?? [undefined] },
      { key: 'data.rho', values: b.rho ?? [undefined] },
      { key: 'data.imbType', values: b.imbType ?? [undefined] },
      ...extra.map((k) => ({ key: k, values: (b.axes as Record<string, unknown[]>)[k] })),
      { key: 'seed', values: b.seeds ?? [undefined] },
      { key: 'data.subsetSeed', values: b.subsetSeeds ?? [undefined] },
    ];
    for (const combo of product(axes.map((a) => a.values))) {
      const raw = structuredClone(base);
      combo.forEach((v, i) => {
        if (v !== undefined) setDotted(raw, axes[i].key, v, `${where}: ${axes[i].key}`);
      });
      raw.outDir = outDir;
      // The name needs the resolved values (an axis left out takes the base's); resolve once without it.
      const probe = resolveConfig({ ...raw, name: undefined }, `${where} (a grid point)`);
      const parts = [
        namePart(probe.method.recipe),
        `rho${namePart(probe.data.rho)}`,
        probe.data.imbType,
        ...extra.map((k, i) => `${namePart(label(k))}${namePart(combo[3 + i])}`),
        `s${probe.seed}`,
        `ss${probe.data.subsetSeed}`,
      ];
      const runName = `${name}/${namePart(probe.data.dataset)}/${parts.join('-')}`;
      raw.name = runName;
      const config = resolveConfig(raw, `${where} (point ${runName})`);
      if (seen.has(runName)) {
        throw new ConfigError(
          `${where}: grid point ${runName} is also made by ${seen.get(runName)}: two points, one run`,
        );
      }
      seen.set(runName, where);
      const coords: Record<string, unknown> = {
        dataset: config.data.dataset,
        recipe: config.method.recipe,
        rho: config.data.rho,
        imbType: config.data.imbType,
      };
      extra.forEach((k, i) => (coords[k] = combo[3 + i]));
      coords.seed = config.seed;
      coords.subsetSeed = config.data.subsetSeed;
      points.push({ name: runName, mode: b.mode ?? 'train', config, coords });
    }
  }
  return { file, name, description: g.description ?? null, outDir, points };
}
