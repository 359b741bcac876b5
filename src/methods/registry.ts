// The component registry and recipes (ARCHITECTURE.md "methods/"). A recipe such as `ldam+drw+crt` is a
// registry lookup per name plus one check: a slot holds at most one component (`reweight+drw` names two
// class-weight rules and is refused, naming both and the slot). The config's `method` section is assembled
// from the registered components' option shapes; `ltkit list methods` prints this registry and the smoke
// test iterates it, so a new component is listed and tested the moment it is registered.
import { z } from 'zod';
import type { Criterion } from '../losses';
import { InstanceSampler, IndexSampler } from '../data/samplers';
import type {
  BuildContext,
  Component,
  Contribution,
  FeatureHook,
  Slot,
  StageFactory,
  UnlabeledContribution,
} from './types';
import { SLOTS } from './types';
import { RecipeError } from '../core/errors';

const registry = new Map<string, Component>();
const optionOwners = new Map<string, { schema: z.ZodTypeAny; owner: string }>();

export { RecipeError };

/** Registers a component; refuses a duplicate name, a second default for a slot, or a clashing option key. */
export function register(c: Component): Component {
  if (registry.has(c.name)) throw new Error(`method component '${c.name}' is registered twice`);
  if (!/^[a-z][a-z0-9-]*$/.test(c.name)) throw new Error(`method component name '${c.name}' must be kebab-case`);
  if (c.isDefault && [...registry.values()].some((o) => o.isDefault && o.slot === c.slot)) {
    throw new Error(`method component '${c.name}': slot '${c.slot}' already has a default`);
  }
  for (const [key, schema] of Object.entries(c.options)) {
    const prev = optionOwners.get(key);
    if (key === 'recipe' || (prev && prev.schema !== schema)) {
      const owner = key === 'recipe' ? 'the recipe itself' : `'${prev?.owner}'`;
      throw new Error(`method component '${c.name}': option 'method.${key}' is already defined by ${owner}`);
    }
  }
  for (const [key, schema] of Object.entries(c.options)) {
    if (!optionOwners.has(key)) optionOwners.set(key, { schema, owner: c.name });
  }
  registry.set(c.name, c);
  return c;
}

/** Every registered component, in registration order. */
export function components(): Component[] {
  return [...registry.values()];
}

/** The `method` section as the rest of ltkit sees it: the recipe, and each component's options by key. */
export type MethodSection = { recipe: string } & Record<string, unknown>;

/** The `method` section's schema: `recipe` plus every registered component's options. */
export function methodSchema(): z.ZodType<MethodSection, z.ZodTypeDef, Partial<MethodSection>> {
  const shape: z.ZodRawShape = { recipe: z.string().default('ce').describe("components joined by '+'") };
  for (const [key, { schema }] of optionOwners) shape[key] = schema;
  return z.object(shape).strict() as unknown as z.ZodType<MethodSection, z.ZodTypeDef, Partial<MethodSection>>;
}

export interface Recipe {
  text: string;
  /** The named components, in recipe order. */
  components: Component[];
  /** The component in each slot, the slot's default filled in where the recipe names none. */
  bySlot: Map<Slot, Component>;
}

/** Parses and checks a recipe string (names only; options are checked by the config schema). */
export function parseRecipe(text: string): Recipe {
  const t = text.trim();
  if (t === '' || /^\+*$/.test(t.replace(/\s/g, ''))) {
    throw new RecipeError(`method.recipe is empty (e.g. 'ce', 'ldam+drw', 'mfw+drw')`);
  }
  const names = t.split('+').map((s) => s.trim().toLowerCase());
  if (names.some((n) => n === '')) {
    throw new RecipeError(`method.recipe '${t}': an empty component between '+' signs (e.g. 'ldam+drw')`);
  }
  const allowed = () => components().map((c) => c.name);
  const bySlot = new Map<Slot, Component>();
  const named: Component[] = [];
  for (const n of names) {
    const c = registry.get(n);
    if (!c) throw new RecipeError(`method.recipe '${t}': unknown component '${n}' (allowed: ${allowed().join(', ')})`);
    const prev = bySlot.get(c.slot);
    if (prev) {
      throw new RecipeError(
        `method.recipe '${t}': '${prev.name}' and '${n}' both fill the '${c.slot}' slot; ` +
          `a recipe takes one ${c.slot === 'loss' ? 'loss' : c.slot + ' component'}`,
      );
    }
    bySlot.set(c.slot, c);
    named.push(c);
  }
  for (const c of components()) if (c.isDefault && !bySlot.has(c.slot)) bySlot.set(c.slot, c);
  return { text: t, components: named, bySlot };
}

/** A recipe's contributions merged, for one training set: what the trainer consumes. */
export interface MethodPlan {
  recipe: Recipe;
  /** The loss term's name and a fresh criterion. */
  lossName: string;
  createCriterion(): Criterion;
  normedLinear: boolean;
  classWeightsAt(epoch: number): number[] | null;
  createSampler(targets: ArrayLike<number>, seed: number): IndexSampler;
  features: FeatureHook | null;
  /** Extra stages after the main training, in recipe order. */
  stages: StageFactory[];
  /** A loss on unlabeled images (needs data.unlabeled), or null. */
  unlabeled: UnlabeledContribution | null;
  /** The pretext task whose pre-trained backbone the run starts from, or null. */
  pretrain: Contribution['pretrain'] | null;
}

export function buildPlan(recipe: Recipe, ctx: BuildContext): MethodPlan {
  const parts: Contribution[] = SLOTS.flatMap((s) => {
    const c = recipe.bySlot.get(s);
    return c ? [c.build(ctx)] : [];
  });
  const pick = <K extends keyof Contribution>(k: K): Contribution[K] | undefined => parts.find((p) => p[k])?.[k];
  const loss = pick('loss');
  if (!loss) throw new RecipeError(`method.recipe '${recipe.text}': no component provides a loss`);
  const classWeights = pick('classWeights');
  const sampler = pick('sampler');
  return {
    recipe,
    lossName: loss.name,
    createCriterion: () => loss.create(),
    normedLinear: loss.normedLinear,
    classWeightsAt: (e) => (classWeights ? classWeights(e) : null),
    createSampler: (targets, seed) => (sampler ? sampler(targets, seed) : new InstanceSampler(targets.length, seed)),
    features: pick('features') ?? null,
    stages: parts.flatMap((p) => p.stages ?? []),
    unlabeled: pick('unlabeled') ?? null,
    pretrain: pick('pretrain') ?? null,
  };
}

/** The recipe as run.json records it: text, components and what fills each slot. */
export function describeRecipe(r: Recipe): {
  text: string;
  components: string[];
  slots: Record<string, string | null>;
} {
  return {
    text: r.text,
    components: r.components.map((c) => c.name),
    slots: Object.fromEntries(SLOTS.map((s) => [s, r.bySlot.get(s)?.name ?? null])),
  };
}

/** A component's own options, typed by its option shape (they live in the config's `method` section). */
export function methodOptions<S extends z.ZodRawShape>(ctx: BuildContext, _shape: S): z.output<z.ZodObject<S>> {
  return ctx.settings.method as unknown as z.output<z.ZodObject<S>>;
}
