// Generates src/engine/ops.generated.ts from the installed libtorch's operator schemas for the
// allow-list in op-list.ts. Run: `npm run build:ts && npm run gen:ops` (then rebuild).
//
// Wrapper shape: arguments without a default are positional; arguments with a default and
// keyword-only arguments go into a trailing options object; Generator arguments are omitted
// (libtorch's default generator, seeded by manualSeed). Overloads of one entry are merged and
// chosen at run time from the positional arguments' types.
import * as fs from 'fs';
import * as path from 'path';
import { native, OpArgSchema, OpSchema } from './native';
import { OP_LIST } from './op-list';
import { Tensor } from './tensor';

interface TsType {
  ts: string;
  test: (v: string) => string;
  convert?: (v: string) => string;
}

function mapType(type: string, where: string): TsType | null {
  const optional = type.endsWith('?');
  const base = optional ? type.slice(0, -1) : type;
  let t: TsType;
  if (base === 'Tensor') t = { ts: 'Tensor', test: (v) => `${v} instanceof Tensor` };
  else if (base === 'Tensor[]') t = { ts: 'Tensor[]', test: (v) => `Array.isArray(${v})` };
  else if (base === 'Tensor?[]') t = { ts: '(Tensor | null)[]', test: (v) => `Array.isArray(${v})` };
  else if (base === 'Scalar') t = { ts: 'number', test: (v) => `typeof ${v} === 'number'` };
  else if (base === 'int' || base === 'SymInt' || base === 'float') {
    t = { ts: 'number', test: (v) => `typeof ${v} === 'number'` };
  } else if (/^(Sym)?[Ii]nt\[\d*\]$/.test(base)) {
    t = { ts: 'number | number[]', test: (v) => `(typeof ${v} === 'number' || Array.isArray(${v}))` };
  } else if (base === 'float[]') t = { ts: 'number[]', test: (v) => `Array.isArray(${v})` };
  else if (base === 'bool') t = { ts: 'boolean', test: (v) => `typeof ${v} === 'boolean'` };
  else if (base === 'bool[]') t = { ts: 'boolean[]', test: (v) => `Array.isArray(${v})` };
  else if (base === 'str') t = { ts: 'string', test: (v) => `typeof ${v} === 'string'` };
  else if (base === 'ScalarType') {
    t = { ts: 'DType', test: (v) => `typeof ${v} === 'string'`, convert: (v) => `dt(${v})` };
  } else if (base === 'Layout' || base === 'MemoryFormat') {
    t = { ts: 'number', test: (v) => `typeof ${v} === 'number'` };
  } else if (base === 'Device') t = { ts: 'string', test: (v) => `typeof ${v} === 'string'` };
  else if (base === 'Generator') return null;
  else throw new Error(`${where}: unsupported argument type '${type}'`);
  if (optional) {
    const inner = t.test;
    return { ...t, ts: `${t.ts} | null`, test: (v) => `(${v} === null || ${inner(v)})` };
  }
  return t;
}

// N of an `int[N]` / `SymInt[N]` argument (the schema's type string loses it), else 0.
function fixedListSize(schema: string, argName: string): number {
  const m = new RegExp(`(?:Sym)?[Ii]nt\\[(\\d+)\\]\\??\\s+${argName}\\b`).exec(schema);
  return m ? Number(m[1]) : 0;
}

function retType(s: OpSchema): string {
  const one = (t: string): string => {
    if (t === 'Tensor') return 'Tensor';
    if (t === 'Tensor[]') return 'Tensor[]';
    if (t === 'bool') return 'boolean';
    if (['Scalar', 'int', 'float', 'SymInt'].includes(t)) return 'number';
    throw new Error(`${s.schema}: unsupported return type ${t}`);
  };
  if (s.returns.length === 0) return 'void';
  if (s.returns.length === 1) return one(s.returns[0].type);
  return `[${s.returns.map((r) => one(r.type)).join(', ')}]`;
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const RESERVED_ARG_NAMES = new Set(['self', 'input', 'default', 'function', 'var', 'new', 'in']);
const OP_NAMES = new Set(OP_LIST.map((e) => e[0]));
function argName(n: string): string {
  const c = camel(n);
  return RESERVED_ARG_NAMES.has(c) || OP_NAMES.has(c) ? c + '_' : c;
}

interface Overload {
  overload: string;
  schema: OpSchema;
  positional: OpArgSchema[];
  optional: OpArgSchema[];
}

function generate(): string {
  const lines: string[] = [];
  const methods: string[] = [];
  const methodDecls: string[] = [];
  const reserved = new Set(Object.getOwnPropertyNames(Tensor.prototype));
  reserved.add('kept');
  reserved.add('handle');
  const seen = new Set<string>();
  const idDecls: string[] = [];
  let idCount = 0;
  for (const [tsName, aten, ...overloadNames] of OP_LIST) {
    if (seen.has(tsName)) throw new Error(`op-list: duplicate name ${tsName}`);
    seen.add(tsName);
    const overloads: Overload[] = overloadNames.map((ov) => {
      const schema = native.OpSchema('aten::' + aten, ov);
      if (!schema) throw new Error(`op-list: aten::${aten}.${ov} does not exist in this libtorch`);
      const real = schema.args.filter((a) => !a.type.startsWith('Generator'));
      return {
        overload: ov,
        schema,
        positional: real.filter((a) => a.default === undefined && !a.kwargOnly),
        optional: real.filter((a) => a.default !== undefined || a.kwargOnly),
      };
    });
    const maxPos = Math.max(...overloads.map((o) => o.positional.length));
    // Positional parameters: merged across overloads.
    const params: { name: string; types: Set<string>; optional: boolean }[] = [];
    for (let i = 0; i < maxPos; i++) {
      const types = new Set<string>();
      let name = '';
      let optional = false;
      for (const o of overloads) {
        const a = o.positional[i];
        if (!a) {
          optional = true;
          continue;
        }
        if (!name) name = argName(a.name);
        types.add(mapType(a.type, o.schema.schema)!.ts);
      }
      params.push({ name, types, optional });
    }
    // Options: the union of every overload's defaulted / keyword-only arguments.
    const optFields = new Map<string, Set<string>>();
    for (const o of overloads) {
      for (const a of o.optional) {
        const t = mapType(a.type, o.schema.schema);
        if (!t) continue;
        const key = camel(a.name);
        if (!optFields.has(key)) optFields.set(key, new Set());
        optFields.get(key)!.add(t.ts);
      }
    }
    const rets = new Set(overloads.map((o) => retType(o.schema)));
    if (rets.size !== 1) throw new Error(`${tsName}: overloads return different types`);
    const ret = [...rets][0];
    const aliasReturn = overloads[0].schema.returns.length === 1 && overloads[0].schema.returns[0].aliasWrite;

    const paramDecl = params.map((p) => `${p.name}${p.optional ? '?' : ''}: ${[...p.types].join(' | ')}`);
    const optType =
      optFields.size === 0 ? '' : `{ ${[...optFields].map(([k, ts]) => `${k}?: ${[...ts].join(' | ')}`).join('; ')} }`;
    if (optType) paramDecl.push(`o?: ${optType}`);

    const callFor = (o: Overload): string => {
      const args = o.schema.args.map((a) => {
        if (a.type.startsWith('Generator')) return 'undefined';
        const idx = o.positional.indexOf(a);
        const t = mapType(a.type, o.schema.schema)!;
        const v = idx >= 0 ? params[idx].name : `o?.${camel(a.name)}`;
        const n = fixedListSize(o.schema.schema, a.name);
        const w = n > 1 ? `rep(${v}, ${n})` : v;
        return t.convert ? t.convert(w) : w;
      });
      // The operator id is resolved on first use and cached in a module variable.
      const idVar = `id${idCount++}`;
      idDecls.push(`let ${idVar} = -1;`);
      const id = `(${idVar} >= 0 ? ${idVar} : (${idVar} = op(${JSON.stringify('aten::' + aten)}, ${JSON.stringify(o.overload)})))`;
      const call = `callOp(${id}, [${args.join(', ')}])`;
      if (aliasReturn) return `${call};\n    return ${params[0].name};`;
      return `return ${call} as ${ret};`;
    };
    const doc = overloads.map((o) => ` *   ${o.schema.schema}`).join('\n');
    lines.push(`/**\n * aten::${aten}\n${doc}\n */`);
    lines.push(`export function ${tsName}(${paramDecl.join(', ')}): ${ret} {`);
    if (overloads.length === 1) {
      lines.push(`  ${callFor(overloads[0]).replace(/\n {4}/g, '\n  ')}`);
    } else {
      for (const o of overloads) {
        const conds = params.map((p, i) => {
          const a = o.positional[i];
          if (!a) return `${p.name} === undefined`;
          return mapType(a.type, o.schema.schema)!.test(p.name);
        });
        lines.push(`  if (${conds.join(' && ') || 'true'}) {`);
        lines.push(`    ${callFor(o)}`);
        lines.push('  }');
      }
      lines.push(
        `  throw new TypeError(${JSON.stringify(`${tsName}(): arguments match no overload of aten::${aten}: `)} + ${JSON.stringify(overloads.map((o) => o.schema.schema).join(' | '))});`,
      );
    }
    lines.push('}', '');

    // A Tensor method when the first positional argument is the tensor itself.
    const first = overloads.every((o) => o.positional[0] && mapType(o.positional[0].type, '')!.ts === 'Tensor');
    if (first && !reserved.has(tsName) && params.length > 0) {
      const rest = paramDecl.slice(1);
      const restNames = params
        .slice(1)
        .map((p) => p.name)
        .concat(optType ? ['o'] : []);
      methodDecls.push(`    ${tsName}(${rest.join(', ')}): ${ret};`);
      methods.push(
        `Tensor.prototype.${tsName} = function (this: Tensor${rest.length ? ', ' + rest.join(', ') : ''}) {\n  return ${tsName}(${['this', ...restNames].join(', ')});\n};`,
      );
    }
  }
  const header = [
    '// DO NOT EDIT: generated by src/engine/gen-ops.ts from the operator schemas of libtorch',
    `// ${native.Runtime().torchVersion} for the allow-list in src/engine/op-list.ts. Regenerate with \`npm run gen:ops\`.`,
    '/* eslint-disable */',
    "import { Tensor, callOp, resolveOp as op } from './tensor';",
    "import { DType, dtypeCode } from './dtype';",
    '',
    'function dt(d: DType | null | undefined): number | null | undefined {',
    '  return d === null || d === undefined ? d : dtypeCode(d);',
    '}',
    '',
    '// An int for an `int[N]` argument means N copies, as in PyTorch (stride=2 is [2, 2]).',
    'function rep(v: number | number[] | null | undefined, n: number): number[] | null | undefined {',
    "  return typeof v === 'number' ? new Array<number>(n).fill(v) : v;",
    '}',
    '',
  ];
  const aug = ["declare module './tensor' {", '  interface Tensor {', ...methodDecls, '  }', '}', '', ...methods, ''];
  return [...header, ...idDecls, '', ...lines, ...aug].join('\n');
}

const out = path.resolve(__dirname, '..', '..', '..', 'src', 'engine', 'ops.generated.ts');
fs.writeFileSync(out, generate());
console.log(`wrote ${out}`);
