// ltkit as an ES module: `import * as lt from 'ltkit'` (package.json "exports" → "import").
// The library is compiled to CommonJS (dist/src); this re-exports it, so CommonJS and ESM users share one
// instance and one native addon. Node finds the named exports of the compiled module statically
// (cjs-module-lexer reads TypeScript's export helpers); src/packaging.test.ts checks that none is lost.
export * from '../dist/src/index.js';
export { default } from '../dist/src/index.js';
