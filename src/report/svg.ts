// Charts as SVG, rendered server-side by Vega (no browser, no canvas): every figure ltkit writes is a
// Vega-Lite specification compiled and rendered here. Vega and Vega-Lite ship as ES modules only, so they
// are loaded with a real dynamic import (TypeScript's CommonJS output would turn `import()` into `require`).

/** A Vega-Lite specification (https://vega.github.io/vega-lite/docs/spec.html). */
export type VegaLiteSpec = Record<string, unknown>;

const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

interface VegaModules {
  vega: {
    View: new (runtime: unknown, o: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void };
    parse(spec: unknown): unknown;
  };
  vegaLite: { compile(spec: unknown): { spec: unknown } };
}
let modules: Promise<VegaModules> | null = null;
function load(): Promise<VegaModules> {
  modules ??= Promise.all([importEsm('vega'), importEsm('vega-lite')]).then(([vega, vegaLite]) => ({
    vega: vega as VegaModules['vega'],
    vegaLite: vegaLite as VegaModules['vegaLite'],
  }));
  return modules;
}

/** Renders a Vega-Lite specification to a standalone SVG document. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const { vega, vegaLite } = await load();
  const compiled = vegaLite.compile({ background: 'white', ...spec }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
