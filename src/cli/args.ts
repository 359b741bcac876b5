// A small argument parser: `--flag`, `--key value`, `--key=value`, repeatable keys, positionals.
// Unknown options are errors that list the command's options.

export interface OptionSpec {
  name: string;
  help: string;
  type: 'string' | 'number' | 'boolean';
  repeat?: boolean;
  default?: string | number | boolean;
  metavar?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec[];
  examples?: string[];
  details?: string;
}

export class UsageError extends Error {}

/** Where a command writes: the process streams, or capture functions (tests; embedding). */
export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** A command kept in a module of its own; main.ts registers it and passes its streams. */
export interface CommandModule {
  spec: CommandSpec;
  run(p: Parsed, io: CliIO): Promise<void>;
}

export type Parsed = { positionals: string[]; opts: Record<string, string | number | boolean | string[] | undefined> };

export function parseArgs(spec: CommandSpec, argv: string[]): Parsed {
  const opts: Parsed['opts'] = {};
  const positionals: string[] = [];
  for (const o of spec.options) if (o.default !== undefined) opts[o.name] = o.default;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const key = a.slice(2, eq > 0 ? eq : undefined);
    const o = spec.options.find((x) => x.name === key);
    if (!o) {
      throw new UsageError(
        `ltkit ${spec.name}: unknown option --${key} (options: ${spec.options.map((x) => '--' + x.name).join(', ')})`,
      );
    }
    let value: string | undefined = eq > 0 ? a.slice(eq + 1) : undefined;
    if (o.type === 'boolean') {
      opts[o.name] = value === undefined ? true : value !== 'false';
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`ltkit ${spec.name}: --${key} needs a value`);
    }
    let v: string | number = value;
    if (o.type === 'number') {
      v = Number(value);
      if (!Number.isFinite(v)) throw new UsageError(`ltkit ${spec.name}: --${key} expects a number, got '${value}'`);
    }
    if (o.repeat) opts[o.name] = [...((opts[o.name] as string[] | undefined) ?? []), String(v)];
    else opts[o.name] = v;
  }
  return { positionals, opts };
}

export function helpText(spec: CommandSpec): string {
  const lines = [`ltkit ${spec.name} — ${spec.summary}`, '', `usage: ${spec.usage}`];
  if (spec.details) lines.push('', spec.details);
  if (spec.options.length) {
    lines.push('', 'options:');
    for (const o of spec.options) {
      const left = `  --${o.name}${o.type === 'boolean' ? '' : ' ' + (o.metavar ?? o.type.toUpperCase())}`;
      const def = o.default !== undefined && o.type !== 'boolean' ? ` (default: ${o.default})` : '';
      lines.push(`${left.padEnd(30)} ${o.help}${def}`);
    }
    lines.push(`${'  --help'.padEnd(30)} show this help`);
  }
  if (spec.examples?.length) lines.push('', 'examples:', ...spec.examples.map((e) => '  ' + e));
  return lines.join('\n');
}
